#include "config/cluster_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "config/text.h"

namespace gitsyncd {
namespace {

const std::vector<std::string> kClusterKeys = {"endpoints", "tls", "name", "selectors", "prefix", "lease_ttl", "relay_key"};
const std::vector<std::string> kClusterTlsKeys = {"ca", "cert", "key"};
constexpr size_t kMaxEndpoints = 16;
constexpr size_t kMaxSelectors = 64;

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return host == "[::1]";
}

// "http(s)://HOST:PORT" with nothing after the port; returns why not, or "".
std::string EndpointProblem(const std::string& url, bool* https, std::string* host) {
  *https = url.rfind("https://", 0) == 0;
  if (!*https && url.rfind("http://", 0) != 0) return "must start with http:// or https://";
  std::string rest = url.substr(*https ? 8 : 7);
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return "must name a host and a port (https://etcd1:2379)";
  *host = rest.substr(0, colon);
  std::string port = rest.substr(colon + 1);
  if (host->find_first_of("/@?# ") != std::string::npos) return "must be just scheme://host:port";
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return "must end with a port number and nothing after it (https://etcd1:2379)";
  }
  return "";
}

void LoadEndpoints(YamlMap& m, ClusterConfig* out) {
  ErrorSink* sink = m.sink();
  YAML::Node list = m.Get("endpoints");
  if (!list.IsDefined()) {
    sink->Add(m.Where(), "cluster.endpoints", "required key is missing (the etcd members, e.g. https://etcd1:2379)");
    return;
  }
  if (!list.IsSequence() || list.size() == 0 || list.size() > kMaxEndpoints) {
    sink->Add(list, "cluster.endpoints", "must be a list of 1 to 16 etcd URLs (https://etcd1:2379)");
    return;
  }
  int schemes = 0;  // bit 1: http, bit 2: https
  for (size_t i = 0; i < list.size(); ++i) {
    std::string key = "cluster.endpoints[" + std::to_string(i) + "]";
    std::string url = list[i].IsScalar() ? WithoutTrailingSlashes(list[i].Scalar()) : "";
    bool https = false;
    std::string host;
    std::string why = list[i].IsScalar() ? EndpointProblem(url, &https, &host) : "must be a URL";
    if (why.empty() && !https && !IsLoopbackHost(host)) {
      why = "plain http:// is only allowed on loopback; anyone on the path could forge pushes and steal "
            "exclusive bindings: use https:// with cluster.tls";
    }
    if (!why.empty()) {
      sink->Add(list[i], key, "'" + (list[i].IsScalar() ? list[i].Scalar() : std::string()) + "' " + why);
      continue;
    }
    schemes |= https ? 2 : 1;
    out->endpoints.push_back(url);
  }
  if (schemes == 3) sink->Add(list, "cluster.endpoints", "mixes http:// and https:// endpoints; use one scheme");
}

}  // namespace

std::string ClusterNameProblem(std::string_view name) {
  if (name.empty() || name.size() > 63) return "must be 1 to 63 characters";
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return "must start with a letter or digit";
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') {
      return "may hold only letters, digits, '.', '_' and '-'";
    }
  }
  return "";
}

std::vector<std::string> LoadSelectorList(YamlMap& m, const std::string& key) {
  std::vector<std::string> out;
  if (!m.Has(key)) return out;
  YAML::Node list = m.Get(key);
  if (!list.IsSequence() || list.size() > kMaxSelectors) {
    m.sink()->Add(list, m.KeyPath(key), "must be a list of up to 64 selectors, e.g. [linux, eu-west]");
    return out;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    std::string value = list[i].IsScalar() ? list[i].Scalar() : "";
    std::string why = ClusterNameProblem(value);
    if (!why.empty()) {
      m.sink()->Add(list[i], m.KeyPath(key) + "[" + std::to_string(i) + "]", "selector '" + value + "' " + why);
    } else if (std::find(out.begin(), out.end(), value) == out.end()) {
      out.push_back(value);
    }
  }
  return out;
}

void LoadCluster(const YAML::Node& node, ErrorSink* sink, ClusterConfig* out) {
  YamlMap m(node, "cluster", sink, kClusterKeys);
  out->configured = true;
  out->where = m.Where();
  LoadEndpoints(m, out);
  bool https = !out->endpoints.empty() && out->endpoints[0].rfind("https://", 0) == 0;
  if (m.Has("tls")) {
    YamlMap t(m.Get("tls"), "cluster.tls", sink, kClusterTlsKeys);
    out->ca = t.Secret("ca");
    out->client_cert = t.Secret("cert");
    out->client_key = t.Secret("key");
    if (out->client_cert.present() != out->client_key.present()) {
      sink->Add(t.Where(), "cluster.tls", "cert and key must be given together");
    }
    if (!out->endpoints.empty() && !https) {
      sink->Add(m.Get("tls"), "cluster.tls", "is for https:// endpoints; these are http://");
    }
  }
  if (m.Has("name")) {
    sink->Add(m.Get("name"), "cluster.name",
              "is no longer read: the instance name is the top-level `instance:` of gitsyncd.yaml (one name for the "
              "fleet and commit statuses); move the value there");
  }
  out->selectors = LoadSelectorList(m, "selectors");
  if (auto v = m.String("prefix")) {
    bool ok = v->size() >= 2 && v->size() <= 128 && v->front() == '/' && v->back() == '/' &&
              v->find("//") == std::string::npos &&
              std::all_of(v->begin(), v->end(), [](char ch) {
                return std::isalnum(static_cast<unsigned char>(ch)) || ch == '/' || ch == '-' || ch == '_' || ch == '.';
              });
    if (ok) {
      out->prefix = *v;
    } else {
      sink->Add(m.Get("prefix"), "cluster.prefix",
                "must start and end with '/' and hold only letters, digits, '/', '-', '_' and '.' (e.g. /gitsyncd/)");
    }
  }
  out->relay_key = m.Secret("relay_key");
  if (auto v = m.Duration("lease_ttl")) {
    if (*v < std::chrono::seconds(2) || *v > std::chrono::minutes(5)) {
      sink->Add(m.Get("lease_ttl"), "cluster.lease_ttl", "must be between 2s and 5m");
    } else {
      out->lease_ttl = *v;
    }
  }
}

}  // namespace gitsyncd
