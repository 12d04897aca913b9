// multipart/form-data request bodies (RFC 7578), for the Bitbucket file APIs: text fields and
// files (raw bytes, no transfer encoding). The boundary is chosen so no part contains it.
#pragma once

#include <random>
#include <string>
#include <vector>

namespace gitsyncd {

class MultipartBody {
 public:
  void AddField(const std::string& name, const std::string& value) { parts_.push_back({name, "", "", value}); }
  // `attributes`: extra Content-Disposition parameters, e.g. `x-attributes:"executable"`.
  void AddFile(const std::string& name, const std::string& filename, const std::string& content,
               const std::string& attributes = "") {
    parts_.push_back({name, filename, attributes, content});
  }

  // Builds the body; ContentType() is valid afterwards.
  std::string Finish() {
    std::random_device rd;
    for (;;) {
      boundary_ = "gitsyncd-" + std::to_string(rd()) + std::to_string(rd()) + std::to_string(rd());
      bool clash = false;
      for (const Part& p : parts_) clash = clash || p.value.find(boundary_) != std::string::npos;
      if (!clash) break;
    }
    std::string out;
    for (const Part& p : parts_) {
      out += "--" + boundary_ + "\r\nContent-Disposition: form-data; name=\"" + Quoted(p.name) + "\"";
      if (!p.filename.empty()) out += "; filename=\"" + Quoted(p.filename) + "\"";
      if (!p.attributes.empty()) out += "; " + p.attributes;
      out += p.filename.empty() ? "\r\n\r\n" : "\r\nContent-Type: application/octet-stream\r\n\r\n";
      out += p.value + "\r\n";
    }
    out += "--" + boundary_ + "--\r\n";
    return out;
  }
  std::string ContentType() const { return "multipart/form-data; boundary=" + boundary_; }

 private:
  struct Part {
    std::string name, filename, attributes, value;
  };
  // Names are file paths: quotes, backslashes and line breaks are escaped as browsers do.
  static std::string Quoted(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"') out += "%22";
      else if (c == '\r') out += "%0D";
      else if (c == '\n') out += "%0A";
      else out += c;
    }
    return out;
  }
  std::vector<Part> parts_;
  std::string boundary_;
};

}  // namespace gitsyncd
