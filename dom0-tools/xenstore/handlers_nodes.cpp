// READ, WRITE, MKDIR, RM, DIRECTORY, DIRECTORY_PART, GET_PERMS, SET_PERMS.
// The dispatcher has made the path argument canonical (Request::path).
#include <cerrno>
#include <charconv>

#include "xenstore/errors.h"
#include "xenstore/request_args.h"
#include "xenstore/server.h"

namespace pv::xenstore {

namespace {
const std::string kOk = std::string("OK") + '\0';
}

std::string XenstoreServer::do_read(Request& req) {
  single_arg(req.msg.payload);  // nothing after the path
  return store_.read(req.caller, req.path, req.tx);  // raw value, no NUL
}

std::string XenstoreServer::do_write(Request& req) {
  std::string_view value = path_and_value(req.msg.payload).second;
  announce(store_.write(req.caller, req.path, std::string(value), req.tx));
  return kOk;
}

std::string XenstoreServer::do_mkdir(Request& req) {
  single_arg(req.msg.payload);  // nothing after the path
  announce(store_.mkdir(req.caller, req.path, req.tx));
  return kOk;
}

std::string XenstoreServer::do_rm(Request& req) {
  single_arg(req.msg.payload);  // nothing after the path
  announce(store_.rm(req.caller, req.path, req.tx));
  return kOk;
}

std::string XenstoreServer::do_directory(Request& req) {
  single_arg(req.msg.payload);  // nothing after the path
  std::string reply = nul_joined(store_.directory(req.caller, req.path, req.tx).names);
  // Clients then fall back to DIRECTORY_PART.
  if (reply.size() > kPayloadMax) throw RequestError(E2BIG, "directory listing exceeds 4096 bytes");
  return reply;
}

// "<path>|<offset>|" -> "<generation>|<child>|...", the children list from
// byte `offset` of the full NUL-separated list, as much as fits; a final
// extra NUL marks the end of the list (Xen's format, which libxenstore
// relies on).
std::string XenstoreServer::do_directory_part(Request& req) {
  auto args = string_args(req.msg.payload, 2);
  size_t offset = 0;
  auto [end, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), offset);
  if (args[1].empty() || ec != std::errc() || end != args[1].data() + args[1].size())
    throw RequestError(EINVAL, "invalid DIRECTORY_PART offset");
  DirectoryListing listing = store_.directory(req.caller, req.path, req.tx);
  std::string all = nul_joined(listing.names);
  if (offset > all.size()) throw RequestError(EINVAL, "DIRECTORY_PART offset beyond the list");
  std::string reply = std::to_string(listing.generation) + '\0';
  const size_t room = kPayloadMax - reply.size() - 1;  // keep one byte for the end marker
  size_t taken = 0;
  while (offset + taken < all.size()) {
    size_t name_end = all.find('\0', offset + taken) + 1;
    if (name_end - offset > room) break;
    taken = name_end - offset;
  }
  if (taken == 0 && offset < all.size()) throw RequestError(E2BIG, "child name too long");
  reply.append(all, offset, taken);
  if (offset + taken == all.size()) reply += '\0';
  return reply;
}

std::string XenstoreServer::do_get_perms(Request& req) {
  single_arg(req.msg.payload);  // nothing after the path
  return store_.get_perms(req.caller, req.path, req.tx).to_wire();
}

std::string XenstoreServer::do_set_perms(Request& req) {
  auto args = string_args(req.msg.payload, 2);
  Permissions perms = Permissions::parse({args.begin() + 1, args.end()});
  announce(store_.set_perms(req.caller, req.path, std::move(perms), req.tx));
  return kOk;
}

}  // namespace pv::xenstore
