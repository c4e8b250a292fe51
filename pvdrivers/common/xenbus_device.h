// One back-end device (a vbd or a vif of one domain), following Xen's
// xenbus back-end state machine through xenstore, as Linux's blkback and
// netback do:
//
//   (new)      publish features, state InitWait
//   front-end Initialised (or Connected after our InitWait)
//              -> connect(): map rings, bind event channels, start I/O;
//                 state Connected
//   front-end Closing / Closed, or a broken ring (fatal())
//              -> disconnect(); state Closing, then Closed
//   front-end back to Initialising after Closed -> InitWait again, unless
//              the toolstack set `online` = 0 (a detach: the device stays
//              Closed until its directory goes away).
// Detach (pvctl block-detach): the toolstack writes online = 0 and state
// Closing itself; the front-end closes and we follow it to Closed.
//
// A front-end state already Connected when this object starts is stale
// (left by a pv-backd that died); we wait for the front-end to go through
// Initialised again, which our guest's front-ends do when they see the
// back-end return to InitWait.
//
// xenstored restarts (pvd restarted; docs/architecture.md): a device keeps
// its state. When its nodes come back as they were (a store that was kept),
// nothing happens. When the toolstack recreated them (the back-end's
// `state` is no longer the one we wrote), the device writes its keys and
// state again and, if connected, keeps serving: the front-end state the
// toolstack wrote is not the guest's and is ignored until it changes.
//
// All methods run on the manager thread; I/O threads report a broken ring
// with fatal(), which posts to it.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <xen/io/xenbus.h>

#include "common/backend_context.h"
#include "pv/log.h"

namespace pv::backd {

struct DeviceId {
  std::string type;  // "vbd", "vif"
  uint32_t domid = 0;
  uint32_t devid = 0;
  std::string backend_path;   // /local/domain/0/backend/<type>/<domid>/<devid>
  std::string frontend_path;  // read from backend_path/frontend
  std::string name() const { return type + " " + std::to_string(domid) + "/" + std::to_string(devid); }
};

class XenbusDevice : public std::enable_shared_from_this<XenbusDevice> {
 public:
  XenbusDevice(BackendContext& ctx, DeviceId id);
  virtual ~XenbusDevice() = default;
  XenbusDevice(const XenbusDevice&) = delete;
  XenbusDevice& operator=(const XenbusDevice&) = delete;

  const DeviceId& id() const { return id_; }
  // Something changed under our back-end directory or the front-end's
  // state (or a retry is due): advance the state machine.
  void on_change();
  // Tears the device down for good (its directory went away).
  void remove();
  // Thread-safe: the ring is broken or the front-end misbehaved; the
  // device disconnects (only this device).
  void fatal(const std::string& why);
  bool connected() const { return connected_; }

 protected:
  // Writes feature-* and other back-end keys; before InitWait.
  virtual void publish_features() = 0;
  // Maps the front-end's rings and starts serving; throws UserError with a
  // reason (written to the back-end's "error" key) when the front-end's
  // keys are bad.
  virtual void connect() = 0;
  // Stops I/O threads, releases rings, grants and event channels.
  virtual void disconnect() = 0;
  // Something under the back-end directory may have changed (after
  // publish_features(), whatever the state): settings the toolstack may
  // change while the device runs (a vbd's I/O limits, say).
  virtual void backend_changed() {}

  BackendContext& ctx() { return ctx_; }
  std::optional<std::string> read_frontend(const std::string& key);
  std::optional<std::string> read_backend(const std::string& key);
  // Integer key or `fallback` when absent; throws UserError when malformed.
  uint64_t frontend_uint(const std::string& key, std::optional<uint64_t> fallback = std::nullopt);
  uint64_t backend_uint(const std::string& key, std::optional<uint64_t> fallback = std::nullopt);
  void write_backend(const std::string& key, const std::string& value);
  // Writes our state again (Connected after an online resize, as Linux's
  // blkback does, so the front-end's watch re-reads the device's details).
  void announce_state() { write_backend("state", std::to_string(uint32_t(state_))); }
  std::shared_ptr<DomainLink> domain_link() { return ctx_.link(id_.domid); }
  // pv::log, the line prefixed with the device's name ("vbd 3/51712: ...").
  void log(std::string_view msg, pv::log::Level level = pv::log::Level::kInfo) const;

 private:
  void switch_state(xen::xenbus::State s);
  uint32_t frontend_state();
  // After a reconnection to xenstored: true when our nodes were recreated
  // (then written again); `fe` is the front-end state found.
  bool restore_recreated_nodes(uint32_t fe);
  void do_disconnect();

  BackendContext& ctx_;
  DeviceId id_;
  bool published_ = false;
  bool connected_ = false;
  bool failed_ = false;  // fatal(): stay closed until the front-end restarts
  bool saw_frontend_unconnected_ = false;
  xen::xenbus::State state_ = xen::xenbus::Initialising;
  uint64_t checked_generation_ = 0;        // xenstore connection our nodes were checked on
  std::optional<uint32_t> toolstack_fe_;   // a front-end state written by the toolstack, not the guest
};

}  // namespace pv::backd
