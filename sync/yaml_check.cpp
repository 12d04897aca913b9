#include "sync/yaml_check.h"

#include <yaml-cpp/yaml.h>

#include "sync/git_handles.h"

namespace gitsyncd {

Status CheckYamlFiles(git_repository* repo, const FlatTree& files, const FlatTree& unchanged_from,
                      const std::string& side, std::vector<std::string>* not_checked, YamlFault* fault) {
  git_odb* odb_raw = nullptr;
  int orc = git_repository_odb(&odb_raw, repo);
  if (orc < 0) return GitError(orc, "cannot open the object database");
  OdbPtr odb(odb_raw);
  for (const auto& [path, e] : files) {
    if (!IsManaged(e) || !(path.ends_with(".yaml") || path.ends_with(".yml"))) continue;
    auto prev = unchanged_from.find(path);
    if (prev != unchanged_from.end() && prev->second == e) continue;
    size_t size = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    if (int rc = git_odb_read_header(&size, &type, odb_raw, &e.oid); rc < 0) return GitError(rc, "cannot read " + path);
    if (size > kMaxYamlCheckBytes) {
      if (not_checked != nullptr) {
        not_checked->push_back(side + " file " + path + " is larger than " + std::to_string(kMaxYamlCheckBytes >> 20) +
                               " MiB: synced without checking that it is valid YAML");
      }
      continue;
    }
    git_blob* b = nullptr;
    int rc = git_blob_lookup(&b, repo, &e.oid);
    if (rc < 0) return GitError(rc, "cannot read " + path);
    BlobPtr blob(b);
    std::string text(static_cast<const char*>(git_blob_rawcontent(b)), static_cast<size_t>(git_blob_rawsize(b)));
    try {
      // LoadAll: a file may hold several documents ("---").
      YAML::LoadAll(text);
    } catch (const YAML::Exception& ex) {
      std::string where = path;
      if (!ex.mark.is_null()) where += ":" + std::to_string(ex.mark.line + 1) + ":" + std::to_string(ex.mark.column + 1);
      if (fault != nullptr) *fault = {path, ex.mark.is_null() ? 0 : ex.mark.line + 1};
      return Status::InvalidArgument(side + " file " + where + ": invalid YAML: " + ex.msg + "; waiting for a fix");
    }
  }
  return Status::Ok();
}

}  // namespace gitsyncd
