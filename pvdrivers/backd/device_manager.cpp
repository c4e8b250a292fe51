#include "backd/device_manager.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "pv/error.h"
#include "pv/log.h"

namespace pv::backd {
namespace {
constexpr const char* kBackendRoot = "/local/domain/0/backend";
constexpr int kTickMs = 500;  // retries: devices waiting for their pv-hv
// Reconnecting to xenstored: first after 100 ms, doubling up to 2 s.
constexpr int kReconnectFirstMs = 100;
constexpr int kReconnectMaxMs = 2000;

bool parse_id(const std::string& s, uint32_t& out) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = static_cast<uint32_t>(std::stoul(s));
  return true;
}
}  // namespace

DeviceManager::DeviceManager(XsClient& xs, std::string state_dir)
    : xs_(xs),
      state_dir_(std::move(state_dir)),
      ctx_{xs_, [this](uint32_t d) { return link(d); }, [this](std::function<void()> fn) { post(std::move(fn)); }} {
  post_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!post_fd_) throw_errno("eventfd(pv-backd)");
}

DeviceManager::~DeviceManager() {
  for (auto& [k, d] : devices_) d->remove();
  devices_.clear();
  links_.clear();
}

void DeviceManager::register_type(const std::string& type, Factory f) { factories_[type] = std::move(f); }

void DeviceManager::post(std::function<void()> fn) {
  {
    std::lock_guard lk(post_mu_);
    posted_.push_back(std::move(fn));
  }
  const uint64_t one = 1;
  (void)!::write(post_fd_.get(), &one, sizeof one);
}

void DeviceManager::run_posted() {
  uint64_t n;
  (void)!::read(post_fd_.get(), &n, sizeof n);
  std::deque<std::function<void()>> work;
  {
    std::lock_guard lk(post_mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

std::shared_ptr<DomainLink> DeviceManager::link(uint32_t domid) {
  auto it = links_.find(domid);
  if (it != links_.end() && it->second->alive()) return it->second;
  const std::string path = state_dir_ + "/domains/" + std::to_string(domid) + ".be.sock";
  try {
    auto l = DomainLink::connect(path, domid);
    links_[domid] = l;
    log::info("linked to domain " + std::to_string(domid));
    return l;
  } catch (const std::exception& e) {
    throw LinkUnavailable(e.what());
  }
}

void DeviceManager::drop_dead_links() {
  std::set<uint32_t> used;
  for (auto& [k, d] : devices_) used.insert(std::get<1>(k));
  for (auto it = links_.begin(); it != links_.end();) {
    if (!used.count(it->first) || !it->second->alive()) it = links_.erase(it);
    else ++it;
  }
}

void DeviceManager::rescan() {
  std::set<Key> seen;
  for (const auto& [type, factory] : factories_) {
    const std::string type_dir = std::string(kBackendRoot) + "/" + type;
    for (const auto& dom : xs_.directory(type_dir)) {
      uint32_t domid;
      if (!parse_id(dom, domid) || domid == 0) continue;
      for (const auto& dev : xs_.directory(type_dir + "/" + dom)) {
        uint32_t devid;
        if (!parse_id(dev, devid)) continue;
        Key key{type, domid, devid};
        seen.insert(key);
        if (devices_.count(key)) continue;
        DeviceId id{type, domid, devid, type_dir + "/" + dom + "/" + dev, ""};
        try {
          devices_[key] = factory(ctx_, id);
          log::info(id.name() + ": new device");
        } catch (const std::exception& e) {
          log::error(id.name() + ": cannot create: " + e.what());
        }
      }
    }
  }
  for (auto it = devices_.begin(); it != devices_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    log::info(it->second->id().name() + ": removed");
    it->second->remove();
    it = devices_.erase(it);
  }
  drop_dead_links();
}

void DeviceManager::advance(XenbusDevice& d) {
  try {
    d.on_change();
  } catch (const XsDisconnected&) {
    throw;
  } catch (const std::exception& e) {
    log::error(d.id().name() + ": " + e.what());
  }
}

void DeviceManager::change_all() {
  for (auto& [k, d] : devices_) advance(*d);
}

void DeviceManager::change_waiting() {
  for (auto& [k, d] : devices_)
    if (!d->connected()) advance(*d);
}

void DeviceManager::watch(const std::string& path, const std::string& token) {
  try {
    xs_.watch(path, token);
  } catch (const XsReplyError& e) {
    // A xenstored that kept this connection's watches across its restart.
    if (e.errno_name != "EEXIST") throw;
  }
}

void DeviceManager::update_frontend_watches(std::set<std::string>& watched) {
  std::set<std::string> want;
  for (auto& [k, d] : devices_)
    if (!d->id().frontend_path.empty()) want.insert(d->id().frontend_path + "/state");
  for (const auto& w : want)
    if (watched.insert(w).second) watch(w, "frontend");
  for (auto it = watched.begin(); it != watched.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    try {
      xs_.unwatch(*it, "frontend");
    } catch (const XsReplyError&) {
    }
    it = watched.erase(it);
  }
}

DeviceManager::Outcome DeviceManager::serve(int stop_fd) {
  using Clock = std::chrono::steady_clock;
  std::set<std::string> fe_watches;  // of this connection
  bool all = true;                   // rescan and advance every device
  auto next_tick = Clock::now();
  try {
    // One recursive watch covers every back-end directory; front-end state
    // changes are watched per device (the front-end's directory).
    watch(kBackendRoot, "backend");
    for (;;) {
      if (all) {
        rescan();
        change_all();  // the first call resolves each front-end path
        update_frontend_watches(fe_watches);
      } else if (Clock::now() >= next_tick) {
        change_waiting();  // devices waiting for their pv-hv retry
      }
      if (Clock::now() >= next_tick) next_tick = Clock::now() + std::chrono::milliseconds(kTickMs);
      all = false;
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now()).count();
      pollfd fds[3] = {{stop_fd, POLLIN, 0}, {xs_.event_fd(), POLLIN, 0}, {post_fd_.get(), POLLIN, 0}};
      const int n = ::poll(fds, 3, static_cast<int>(std::max<int64_t>(wait, 0)));
      if (n < 0 && errno != EINTR) throw_errno("poll(pv-backd)");
      if (fds[0].revents) return Outcome::kStopped;
      if (fds[2].revents) run_posted();
      if (fds[1].revents) {
        // Devices' own counters (statistics/) change all the time and
        // concern nobody's state: they do not wake every device.
        for (const auto& e : xs_.take_events())
          if (e.path.find("/statistics") == std::string::npos) all = true;
      }
      if (!xs_.connected()) return Outcome::kDisconnected;
    }
  } catch (const XsDisconnected&) {
    return Outcome::kDisconnected;
  }
}

DeviceManager::Outcome DeviceManager::reconnect(int stop_fd) {
  using namespace std::chrono;
  const auto lost = steady_clock::now();
  log::warning("xenstored went away; " + std::to_string(devices_.size()) +
               " device(s) keep serving, reconnecting to it");
  milliseconds backoff{kReconnectFirstMs};
  for (;;) {
    pollfd fds[2] = {{stop_fd, POLLIN, 0}, {post_fd_.get(), POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(backoff.count()));
    if (n < 0 && errno != EINTR) throw_errno("poll(pv-backd)");
    if (fds[0].revents) return Outcome::kStopped;
    if (fds[1].revents) run_posted();  // a device's I/O thread reported a broken ring
    try {
      xs_.reconnect();
      const auto ms = duration_cast<milliseconds>(steady_clock::now() - lost).count();
      log::info("reconnected to xenstored after " + std::to_string(ms) + " ms; reconciling " +
                std::to_string(devices_.size()) + " device(s)");
      return Outcome::kReconnected;
    } catch (const SystemError&) {
      // Not back yet. pvd's state directory gone: pvd is not coming back.
      if (::access(state_dir_.c_str(), F_OK) != 0 && errno == ENOENT) return Outcome::kGone;
    }
    backoff = std::min(backoff * 2, milliseconds(kReconnectMaxMs));
  }
}

bool DeviceManager::run(int stop_fd) {
  for (;;) {
    if (serve(stop_fd) == Outcome::kStopped) return true;
    switch (reconnect(stop_fd)) {
      case Outcome::kStopped: return true;
      case Outcome::kGone:
        log::error("xenstored is gone and so is " + state_dir_ + "; stopping");
        return false;
      default: break;  // reconnected: serve again, which reconciles
    }
  }
}

}  // namespace pv::backd
