#include "cluster/etcd_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include "config/base64.h"

namespace gitsyncd {

// The short names Boost.Beast's own examples use, so its documentation reads as our code.
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

constexpr uint64_t kMaxAnswerBytes = 8ull << 20;     // a range of a big fleet's member keys
constexpr size_t kMaxWatchMessageBytes = 8u << 20;   // one streamed JSON object

// The gateway writes 64-bit integers as strings and leaves out zero values.
int64_t Int(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_string()) {
    try {
      return std::stoll(std::string(v->as_string()));
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::string Str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<EtcdKv> KvFromJson(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto key = Base64Decode(Str(o, "key"));
  auto value = Base64Decode(Str(o, "value"));
  if (!key || !value) return std::nullopt;
  return EtcdKv{*key, *value, Int(o, "create_revision"), Int(o, "mod_revision"), Int(o, "lease")};
}

struct Endpoint {
  bool https = false;
  std::string host, port;
};

Endpoint ParseEndpoint(const std::string& url) {  // the config loader checked the form
  Endpoint e;
  e.https = url.rfind("https://", 0) == 0;
  std::string rest = url.substr(e.https ? 8 : 7);
  size_t colon = rest.rfind(':');
  e.host = rest.substr(0, colon);
  e.port = rest.substr(colon + 1);
  if (e.host.size() > 2 && e.host.front() == '[') e.host = e.host.substr(1, e.host.size() - 2);
  return e;
}

}  // namespace

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(end.back() + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

struct EtcdClient::Impl {
  EtcdClientOptions options;
  net::io_context ioc;
  std::optional<ssl::context> tls;
  Status tls_setup;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  size_t current = 0;  // index into endpoints
  uint64_t requests = 0;

  bool Stopping() const { return options.stop && options.stop->load(); }

  beast::tcp_stream& Lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  bool Connected() const { return plain.has_value() || secure.has_value(); }
  std::string Name() const { return options.endpoints.empty() ? "etcd" : options.endpoints[current]; }

  void Run() {
    ioc.restart();
    while (!ioc.stopped()) {
      ioc.run_for(std::chrono::milliseconds(200));
      if (Stopping() && Connected()) Lowest().cancel();
    }
  }

  // Drops the connection; the next request goes to the next endpoint.
  void Drop(bool rotate) {
    plain.reset();
    secure.reset();
    buffer.clear();
    if (rotate && !options.endpoints.empty()) current = (current + 1) % options.endpoints.size();
  }

  std::string ErrorText(const beast::error_code& ec) const {
    if (Stopping()) return "cancelled: gitsyncd is stopping";
    if (ec == beast::error::timeout) return "timed out after " + std::to_string(options.timeout.count()) + " ms";
    return ec.message();
  }

  Status SetupTls() {
    tls.emplace(ssl::context::tls_client);
    beast::error_code ec;
    tls->set_verify_mode(ssl::verify_peer);
    if (options.ca_pem.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->add_certificate_authority(net::buffer(options.ca_pem), ec);
    }
    if (ec) return Status::InvalidArgument("cluster.tls.ca: cannot load the CA: " + ec.message());
    if (!options.cert_pem.empty()) {
      tls->use_certificate_chain(net::buffer(options.cert_pem), ec);
      if (ec) return Status::InvalidArgument("cluster.tls.cert: cannot load the certificate: " + ec.message());
      tls->use_private_key(net::buffer(options.key_pem), ssl::context::pem, ec);
      if (ec) return Status::InvalidArgument("cluster.tls.key: cannot load the key: " + ec.message());
    }
    return Status::Ok();
  }

  Status Connect() {
    if (Connected()) return Status::Ok();
    if (options.endpoints.empty()) return Status::InvalidArgument("no etcd endpoints");
    Endpoint e = ParseEndpoint(options.endpoints[current]);
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto addrs = resolver.resolve(e.host, e.port, ec);
    if (ec) return Status::Unavailable("cannot resolve " + e.host + ": " + ec.message());
    if (e.https) {
      if (!tls) tls_setup = SetupTls();
      if (!tls_setup.ok()) return tls_setup;
      secure.emplace(ioc, *tls);
    } else {
      plain.emplace(ioc);
    }
    Lowest().expires_after(options.timeout);
    Lowest().async_connect(addrs, [&](beast::error_code x, const tcp::endpoint&) { ec = x; });
    Run();
    if (ec) return Status::Unavailable("cannot connect to etcd " + Name() + ": " + ErrorText(ec));
    Lowest().socket().set_option(tcp::no_delay(true), ec);
    if (secure) {
      if (SSL_ctrl(secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(e.host.c_str())) != 1) {
        return Status::Internal("cannot set TLS server name " + e.host);
      }
      secure->set_verify_callback(ssl::host_name_verification(e.host));
      Lowest().expires_after(options.timeout);
      secure->async_handshake(ssl::stream_base::client, [&](beast::error_code x) { ec = x; });
      Run();
      if (ec) return Status::PermissionDenied("TLS handshake with etcd " + Name() + " failed: " + ErrorText(ec));
    }
    return Status::Ok();
  }

  template <class F>
  void OnStream(F&& f) {
    if (secure) {
      f(*secure);
    } else {
      f(*plain);
    }
  }

  Status Write(const std::string& path, const std::string& body) {
    Endpoint e = ParseEndpoint(options.endpoints[current]);
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, e.host + ":" + e.port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "gitsyncd");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    Lowest().expires_after(options.timeout);
    OnStream([&](auto& s) { http::async_write(s, req, [&](beast::error_code x, size_t) { ec = x; }); });
    Run();
    if (ec) return Status::Unavailable("sending to etcd " + Name() + " failed: " + ErrorText(ec));
    ++requests;
    return Status::Ok();
  }

  // An error answer of the gateway: {"error": "...", "code": N, "message": "..."}.
  static Status AnswerError(const std::string& where, int status, const std::string& body) {
    json::error_code ec;
    auto v = json::parse(body, ec);
    std::string message = !ec && v.is_object() ? Str(v.as_object(), "message") : "";
    if (message.empty()) message = "HTTP " + std::to_string(status);
    if (message.find("not found") != std::string::npos) return Status::NotFound("etcd " + where + ": " + message);
    return Status::Unavailable("etcd " + where + ": " + message);
  }

  Result<json::object> Call(const std::string& path, const json::object& request) {
    std::string body = json::serialize(request);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (Stopping()) return Status::Unavailable("cancelled: gitsyncd is stopping");
      bool reused = Connected();
      Status s = Connect();
      if (s.ok()) s = Write(path, body);
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxAnswerBytes);
      if (s.ok()) {
        beast::error_code ec;
        Lowest().expires_after(options.timeout);
        OnStream([&](auto& st) { http::async_read(st, buffer, parser, [&](beast::error_code x, size_t) { ec = x; }); });
        Run();
        if (ec) s = Status::Unavailable("reading the answer of etcd " + Name() + " failed: " + ErrorText(ec));
      }
      if (!s.ok()) {
        Drop(/*rotate=*/!reused);
        if (reused && s.code() == Status::Code::kUnavailable) continue;  // a kept-alive connection went stale
        return s;
      }
      auto& msg = parser.get();
      if (!msg.keep_alive()) Drop(false);
      if (msg.result_int() != 200) return AnswerError(path, msg.result_int(), msg.body());
      json::error_code jec;
      auto v = json::parse(msg.body(), jec);
      if (jec || !v.is_object()) return Status::Corrupted("etcd " + Name() + path + " answered with no JSON object");
      json::object& o = v.as_object();
      // Streaming endpoints (lease/keepalive) wrap the answer in "result".
      if (auto* r = o.if_contains("result"); r && r->is_object()) return r->as_object();
      if (auto* e = o.if_contains("error"); e && e->is_object()) {
        return Status::Unavailable("etcd " + path + ": " + Str(e->as_object(), "message"));
      }
      return std::move(o);
    }
    return Status::Unavailable("etcd " + Name() + ": no answer");
  }

  // One streamed JSON object of a watch; false ends the watch (`out` says why).
  bool WatchMessage(const std::string& line, int64_t* next, const std::function<bool(const EtcdEvent&)>& on_event,
                    Status* out) {
    json::error_code jec;
    auto v = json::parse(line, jec);
    if (jec || !v.is_object()) {
      *out = Status::Corrupted("etcd watch sent something that is not JSON");
      return false;
    }
    auto* r = v.as_object().if_contains("result");
    if (!r || !r->is_object()) {
      auto* e = v.as_object().if_contains("error");
      *out = Status::Unavailable("etcd watch: " + (e && e->is_object() ? Str(e->as_object(), "message") : "error"));
      return false;
    }
    const auto& res = r->as_object();
    if (int64_t compacted = Int(res, "compact_revision"); compacted > 0) {
      *out = Status::Unavailable("etcd watch: revision " + std::to_string(*next) + " was compacted (oldest kept " +
                                 std::to_string(compacted) + ")");
      return false;
    }
    if (auto* h = res.if_contains("header"); h && h->is_object() && *next == 0 && res.contains("created")) {
      *next = Int(h->as_object(), "revision") + 1;
    }
    auto* events = res.if_contains("events");
    for (size_t i = 0; events && events->is_array() && i < events->as_array().size(); ++i) {
      const auto& ev = events->as_array()[i];
      if (!ev.is_object()) continue;
      auto kv = ev.as_object().if_contains("kv");
      auto parsed = kv ? KvFromJson(*kv) : std::nullopt;
      if (!parsed) continue;
      EtcdEvent event{Str(ev.as_object(), "type") == "DELETE", *parsed};
      *next = std::max(*next, parsed->mod_revision + 1);
      if (!on_event(event)) return false;
    }
    return true;
  }
};

EtcdClient::EtcdClient(EtcdClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

EtcdClient::~EtcdClient() = default;

Result<int64_t> EtcdClient::GrantLease(std::chrono::seconds ttl) {
  auto r = impl_->Call("/v3/lease/grant", {{"TTL", ttl.count()}});
  if (!r.ok()) return r.status();
  if (!Str(*r, "error").empty()) return Status::Unavailable("etcd lease grant: " + Str(*r, "error"));
  int64_t id = Int(*r, "ID");
  if (id == 0) return Status::Corrupted("etcd granted no lease");
  return id;
}

Result<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  auto r = impl_->Call("/v3/lease/keepalive", {{"ID", std::to_string(lease)}});
  if (!r.ok()) return r.status();
  int64_t ttl = Int(*r, "TTL");
  if (ttl <= 0) return Status::NotFound("etcd lease " + std::to_string(lease) + " has expired");
  return ttl;
}

Status EtcdClient::RevokeLease(int64_t lease) {
  return impl_->Call("/v3/lease/revoke", {{"ID", std::to_string(lease)}}).status();
}

Status EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  json::object req{{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) req["lease"] = std::to_string(lease);
  return impl_->Call("/v3/kv/put", req).status();
}

Status EtcdClient::Delete(const std::string& key) {
  return impl_->Call("/v3/kv/deleterange", {{"key", Base64Encode(key)}}).status();
}

Result<std::vector<EtcdKv>> EtcdClient::Range(const std::string& prefix, int64_t limit, int64_t* revision) {
  json::object req{{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixRangeEnd(prefix))}};
  if (limit > 0) req["limit"] = std::to_string(limit);
  auto r = impl_->Call("/v3/kv/range", req);
  if (!r.ok()) return r.status();
  if (revision) {
    auto* h = r->if_contains("header");
    *revision = h && h->is_object() ? Int(h->as_object(), "revision") : 0;
  }
  std::vector<EtcdKv> out;
  if (auto* kvs = r->if_contains("kvs"); kvs && kvs->is_array()) {
    for (const auto& v : kvs->as_array()) {
      if (auto kv = KvFromJson(v)) out.push_back(std::move(*kv));
    }
  }
  return out;
}

Result<std::optional<EtcdKv>> EtcdClient::Get(const std::string& key, int64_t revision) {
  json::object req{{"key", Base64Encode(key)}};
  if (revision > 0) {
    req["revision"] = std::to_string(revision);
    req["serializable"] = true;
  }
  auto r = impl_->Call("/v3/kv/range", req);
  if (!r.ok() && revision > 0 && r.status().message().find("future revision") != std::string::npos) {
    req.erase("serializable");  // this member has not applied `revision` yet: ask the quorum
    r = impl_->Call("/v3/kv/range", req);
  }
  if (!r.ok()) return r.status();
  if (auto* kvs = r->if_contains("kvs"); kvs && kvs->is_array() && !kvs->as_array().empty()) {
    return KvFromJson(kvs->as_array()[0]);
  }
  return std::optional<EtcdKv>();
}

Result<bool> EtcdClient::PutIfAbsent(const std::string& key, const std::string& value, int64_t lease,
                                     const std::vector<EtcdKv>& and_put) {
  auto put = [](const std::string& k, const std::string& v, int64_t l) {
    json::object o{{"key", Base64Encode(k)}, {"value", Base64Encode(v)}};
    if (l != 0) o["lease"] = std::to_string(l);
    return json::object{{"request_put", std::move(o)}};
  };
  json::array success{put(key, value, lease)};
  for (const auto& kv : and_put) success.push_back(put(kv.key, kv.value, kv.lease));
  json::object req{
      {"compare", json::array{json::object{
                      {"key", Base64Encode(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}}},
      {"success", std::move(success)}};
  auto r = impl_->Call("/v3/kv/txn", req);
  if (!r.ok()) return r.status();
  auto* ok = r->if_contains("succeeded");
  return ok && ok->is_bool() && ok->as_bool();
}

Result<int64_t> EtcdClient::Watch(const std::string& prefix, int64_t from, std::chrono::milliseconds idle,
                                  const std::function<bool(const EtcdEvent&)>& on_event) {
  Impl& m = *impl_;
  json::object create{{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixRangeEnd(prefix))}};
  if (from > 0) create["start_revision"] = std::to_string(from);
  m.Drop(false);  // a watch holds its connection until it ends
  Status s = m.Connect();
  if (s.ok()) s = m.Write("/v3/watch", json::serialize(json::object{{"create_request", create}}));
  if (!s.ok()) {
    m.Drop(true);
    return s;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);  // the stream is unbounded; each message is capped below
  beast::error_code ec;
  m.Lowest().expires_after(m.options.timeout);
  m.OnStream([&](auto& st) { http::async_read_header(st, m.buffer, parser, [&](beast::error_code x, size_t) { ec = x; }); });
  m.Run();
  if (!ec && parser.get().result_int() != 200) {
    m.Drop(true);
    return Status::Unavailable("etcd " + m.Name() + " refused the watch: HTTP " + std::to_string(parser.get().result_int()));
  }
  int64_t next = from;
  std::string pending;
  Status result;
  bool go_on = !ec;
  while (go_on && !parser.is_done()) {
    m.Lowest().expires_after(idle);
    m.OnStream([&](auto& st) { http::async_read_some(st, m.buffer, parser, [&](beast::error_code x, size_t) { ec = x; }); });
    m.Run();
    if (ec) break;
    pending += parser.get().body();
    parser.get().body().clear();
    for (size_t nl; go_on && (nl = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") != std::string::npos) go_on = m.WatchMessage(line, &next, on_event, &result);
    }
    if (pending.size() > kMaxWatchMessageBytes) {
      result = Status::Corrupted("etcd watch message larger than 8 MiB");
      go_on = false;
    }
  }
  bool idle_end = ec == beast::error::timeout && !m.Stopping();
  m.Drop(/*rotate=*/ec && !idle_end);
  if (!result.ok()) return result;
  if (ec && !idle_end) return Status::Unavailable("etcd watch on " + m.Name() + " broke: " + m.ErrorText(ec));
  return next;
}

std::string EtcdClient::endpoint() const { return impl_->Name(); }
uint64_t EtcdClient::requests() const { return impl_->requests; }

}  // namespace gitsyncd
