#include "common/xenbus_device.h"

#include "pv/error.h"

namespace pv::backd {
namespace S = xen::xenbus;

XenbusDevice::XenbusDevice(BackendContext& ctx, DeviceId id) : ctx_(ctx), id_(std::move(id)) {}

void XenbusDevice::log(std::string_view msg, pv::log::Level level) const {
  pv::log::write(level, id_.name() + ": " + std::string(msg));
}

std::optional<std::string> XenbusDevice::read_frontend(const std::string& key) {
  return ctx_.xs.read(id_.frontend_path + "/" + key);
}
std::optional<std::string> XenbusDevice::read_backend(const std::string& key) {
  return ctx_.xs.read(id_.backend_path + "/" + key);
}
void XenbusDevice::write_backend(const std::string& key, const std::string& value) {
  ctx_.xs.write(id_.backend_path + "/" + key, value);
}

namespace {
uint64_t parse_uint_key(const std::string& where, const std::optional<std::string>& v, std::optional<uint64_t> fallback) {
  if (!v) {
    if (fallback) return *fallback;
    throw UserError(where + " is missing");
  }
  if (v->empty() || v->size() > 20 || v->find_first_not_of("0123456789") != std::string::npos)
    throw UserError(where + ": '" + *v + "' is not a number");
  return std::stoull(*v);
}
}  // namespace

uint64_t XenbusDevice::frontend_uint(const std::string& key, std::optional<uint64_t> fallback) {
  return parse_uint_key(id_.frontend_path + "/" + key, read_frontend(key), fallback);
}
uint64_t XenbusDevice::backend_uint(const std::string& key, std::optional<uint64_t> fallback) {
  return parse_uint_key(id_.backend_path + "/" + key, read_backend(key), fallback);
}

void XenbusDevice::switch_state(S::State s) {
  if (state_ == s) return;
  state_ = s;
  write_backend("state", std::to_string(uint32_t(s)));
}

uint32_t XenbusDevice::frontend_state() {
  if (id_.frontend_path.empty()) return S::Unknown;
  try {
    return static_cast<uint32_t>(frontend_uint("state", 0));
  } catch (const UserError&) {
    return S::Unknown;
  }
}

void XenbusDevice::do_disconnect() {
  if (!connected_) return;
  connected_ = false;
  disconnect();
}

void XenbusDevice::fatal(const std::string& why) {
  std::weak_ptr<XenbusDevice> self = weak_from_this();
  ctx_.post([self, why] {
    auto d = self.lock();
    if (!d || d->failed_) return;
    d->log("disconnecting: " + why, pv::log::Level::kError);
    d->failed_ = true;
    d->do_disconnect();
    try {
      d->write_backend("error", why);
      d->switch_state(S::Closing);
    } catch (const std::exception&) {
    }
  });
}

void XenbusDevice::remove() {
  do_disconnect();
  state_ = S::Closed;
}

bool XenbusDevice::restore_recreated_nodes(uint32_t fe) {
  const uint64_t gen = ctx_.xs.generation();
  if (gen == checked_generation_) return false;
  checked_generation_ = gen;
  if (read_backend("state") == std::to_string(uint32_t(state_))) return false;  // kept: untouched
  log("back-end nodes were recreated while xenstored was away; writing them again" +
      std::string(connected_ ? ", still connected" : ""));
  publish_features();
  write_backend("state", std::to_string(uint32_t(state_)));
  if (connected_ && fe != S::Connected) toolstack_fe_ = fe;
  return true;
}

void XenbusDevice::on_change() {
  if (id_.frontend_path.empty()) {
    auto fe = read_backend("frontend");
    if (!fe) return;  // the toolstack is still writing the directory
    id_.frontend_path = *fe;
  }
  const uint32_t fe = frontend_state();
  if (published_) restore_recreated_nodes(fe);
  if (toolstack_fe_) {
    if (fe == *toolstack_fe_) return;  // not the guest's: the rings carry on
    toolstack_fe_.reset();
  }
  if (!published_) {
    publish_features();
    published_ = true;
    checked_generation_ = ctx_.xs.generation();
    switch_state(S::InitWait);
    saw_frontend_unconnected_ = fe != S::Connected;
  } else if (fe != S::Connected) {
    saw_frontend_unconnected_ = true;
  }
  backend_changed();
  switch (fe) {
    case S::Initialising:
    case S::InitWait:
    case S::Reconfiguring:
    case S::Reconfigured:
      // The front-end (re)starts: a new handshake, unless the toolstack
      // is taking the device away (online = 0, as Linux's
      // xenbus_dev_is_online): then it stays closed until removed.
      if ((connected_ || state_ == S::Closing || state_ == S::Closed) && read_backend("online") == "0") {
        do_disconnect();
        break;
      }
      if (connected_ || state_ == S::Closing || state_ == S::Closed) {
        do_disconnect();
        failed_ = false;
        switch_state(S::InitWait);
      }
      break;
    case S::Initialised:
    case S::Connected:
      if (connected_ || failed_ || state_ != S::InitWait) break;
      if (fe == S::Connected && !saw_frontend_unconnected_) break;  // stale, from before our start
      try {
        connect();
        connected_ = true;
        switch_state(S::Connected);
        log("connected");
      } catch (const LinkUnavailable& e) {
        disconnect();  // undo what connect() did; retried on the next tick
      } catch (const std::exception& e) {
        disconnect();
        log(std::string("cannot connect: ") + e.what(), pv::log::Level::kError);
        failed_ = true;
        write_backend("error", e.what());
        switch_state(S::Closing);
      }
      break;
    case S::Closing:
      do_disconnect();
      switch_state(S::Closing);
      break;
    case S::Closed:
      do_disconnect();
      switch_state(S::Closed);
      break;
    default:  // Unknown: the front-end's directory is gone
      do_disconnect();
      break;
  }
}

}  // namespace pv::backd
