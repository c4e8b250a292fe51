// INTRODUCE, RELEASE, IS_DOMAIN_INTRODUCED, RESUME, SET_TARGET, GET_DOMAIN_PATH
// and CONTROL. The op table marks all but GET_DOMAIN_PATH dom0-only.
#include <cerrno>
#include <charconv>

#include "xenstore/errors.h"
#include "xenstore/path.h"
#include "xenstore/request_args.h"
#include "xenstore/server.h"

namespace pv::xenstore {

namespace {
const std::string kOk = std::string("OK") + '\0';

template <typename T>
T parse_number(std::string_view text, const char* what) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    throw RequestError(EINVAL, std::string("invalid ") + what + " '" + std::string(text.substr(0, 24)) + "'");
  return value;
}
}  // namespace

// "<domid>|<gfn>|<evtchn>|?" (the gfn in signed decimal, as Xen's tools send it).
std::string XenstoreServer::do_introduce(Request& req) {
  auto args = string_args(req.msg.payload, 3);
  DomId domid = parse_domid(args[0]);
  auto gfn = static_cast<uint64_t>(parse_number<int64_t>(args[1], "page frame number"));
  auto evtchn = parse_number<uint32_t>(args[2], "event channel");
  introduce(domid, gfn, evtchn);
  return kOk;
}

std::string XenstoreServer::do_release(Request& req) {
  DomId domid = parse_domid(single_arg(req.msg.payload));
  if (domid == 0) throw RequestError(EINVAL, "dom0 cannot be released");
  release(domid);
  return kOk;
}

std::string XenstoreServer::do_is_domain_introduced(Request& req) {
  DomId domid = parse_domid(single_arg(req.msg.payload));
  return std::string(is_introduced(domid) ? "T" : "F") + '\0';
}

// Re-arms the one @releaseDomain event a shutdown fires.
std::string XenstoreServer::do_resume(Request& req) {
  DomId domid = parse_domid(single_arg(req.msg.payload));
  auto it = domains_.find(domid);
  if (it == domains_.end()) throw RequestError(ENOENT, "domain " + std::to_string(domid) + " is not introduced");
  it->second.shutdown_reported = false;
  journal_domain(domid);
  return kOk;
}

// "<domid>|<tdomid>|": domid gets the rights tdomid has (device models).
std::string XenstoreServer::do_set_target(Request& req) {
  auto args = string_args(req.msg.payload, 2);
  DomId domid = parse_domid(args[0]);
  DomId target = parse_domid(args[1]);
  auto it = domains_.find(domid);
  if (it == domains_.end()) throw RequestError(ENOENT, "domain " + std::to_string(domid) + " is not introduced");
  if (target == domid) throw RequestError(EINVAL, "a domain cannot target itself");
  it->second.target = target;
  journal_domain(domid);
  return kOk;
}

std::string XenstoreServer::do_get_domain_path(Request& req) {
  DomId domid = parse_domid(single_arg(req.msg.payload));
  return domain_path(domid) + '\0';
}

std::string XenstoreServer::do_control(Request& req) {
  auto args = string_args(req.msg.payload, 1);
  if (args[0] == "help") return nul_joined({"check", "help", "print|<string>"});
  if (args[0] == "check") return kOk;
  if (args[0] == "print") {
    if (args.size() > 1) log_(std::string("client: ") + std::string(args[1]));
    return kOk;
  }
  throw RequestError(EINVAL, "unknown CONTROL command");
}

}  // namespace pv::xenstore
