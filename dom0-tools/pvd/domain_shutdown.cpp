// pvctl shutdown / reboot, as xl: pvd writes the request to the guest's
// control/shutdown; a guest that takes it clears the node (Linux's
// drivers/xen/manage.c, pvguest's control.cpp), which is its
// acknowledgement. No acknowledgement within the ack timeout is an error
// (ERROR_NOT_ACKNOWLEDGED); with --wait, a domain that acknowledged but
// still runs after the wait timeout is another (ERROR_TIMEOUT).
#include <chrono>

#include "domain_manager.h"
#include "pv/log.h"

namespace pv::pvd {
namespace A = pv::admin;
using namespace std::chrono_literals;

namespace {
constexpr uint32_t kDefaultAckTimeoutS = 10;
constexpr auto kAckPoll = 100ms;
}  // namespace

struct DomainManager::ShutdownWatch {
  ShutdownWatch(boost::asio::io_context& io, ReplyFn fn) : timer(io), reply(std::move(fn)) {}
  // Answers the request once: later answers are dropped.
  void answer(A::Reply r) {
    if (auto fn = std::exchange(reply, nullptr)) fn(std::move(r));
  }

  uint32_t domid = 0;
  pid_t pid = 0;  // of the pv-hv asked (a restarted domain has another)
  std::string name, how, node;
  bool wait = false;
  uint32_t ack_timeout_s = 0, wait_timeout_s = 0;
  std::chrono::steady_clock::time_point ack_deadline;
  boost::asio::steady_timer timer;
  ReplyFn reply;
};

void DomainManager::request_shutdown(Domain& d, const std::string& how, const A::ShutdownRequest& opts,
                                     ReplyFn reply) {
  if (!d.proc || d.rec.state() != A::STATE_RUNNING)
    return reply(error_reply(A::ERROR_INVALID_STATE, "domain '" + d.rec.name() + "' is not running"));
  auto w = std::make_shared<ShutdownWatch>(io_, std::move(reply));
  w->domid = d.rec.domid();
  w->pid = d.proc->pid();
  w->name = d.rec.name();
  w->how = how;
  w->node = "/local/domain/" + std::to_string(w->domid) + "/control/shutdown";
  w->wait = opts.wait();
  w->ack_timeout_s = opts.ack_timeout_s() ? opts.ack_timeout_s() : kDefaultAckTimeoutS;
  w->wait_timeout_s = opts.wait_timeout_s();
  w->ack_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(w->ack_timeout_s);
  if (!xenstore_.write(w->node, how))
    return w->answer(error_reply(A::ERROR_INTERNAL, "cannot write control/shutdown of '" + w->name + "'"));
  poll_ack(w);
}

void DomainManager::poll_ack(const std::shared_ptr<ShutdownWatch>& w) {
  auto it = domains_.find(w->domid);
  Domain* d = it == domains_.end() ? nullptr : it->second.get();
  if (!d || !d->proc || d->proc->pid() != w->pid) {
    // Its pv-hv has ended meanwhile: the guest acted (or ended anyway).
    A::Reply r;
    if (d) *r.mutable_domain() = info(*d);
    return w->answer(r);
  }
  const auto value = xenstore_.read(w->node);
  if (!value || value->empty()) return acknowledged(w, *d);
  if (std::chrono::steady_clock::now() >= w->ack_deadline) {
    log::warning("domain " + std::to_string(w->domid) + " (" + w->name + ") did not acknowledge " + w->how);
    return w->answer(error_reply(
        A::ERROR_NOT_ACKNOWLEDGED,
        "domain '" + w->name + "' did not acknowledge the " + w->how + " request within " +
            std::to_string(w->ack_timeout_s) +
            " s (its kernel does not watch control/shutdown, or is not up yet); the request stays in "
            "control/shutdown; 'pvctl destroy' stops it at once"));
  }
  w->timer.expires_after(kAckPoll);
  w->timer.async_wait([this, w](const boost::system::error_code& ec) {
    if (!ec) poll_ack(w);
  });
}

void DomainManager::acknowledged(const std::shared_ptr<ShutdownWatch>& w, Domain& d) {
  if (!w->wait) {
    A::Reply r;
    *r.mutable_domain() = info(d);
    return w->answer(r);
  }
  // on_exit answers once its pv-hv exits; the timer if that takes too long.
  d.on_shutdown.push_back([w](A::Reply r) { w->answer(std::move(r)); });
  if (!w->wait_timeout_s) return;
  w->timer.expires_after(std::chrono::seconds(w->wait_timeout_s));
  w->timer.async_wait([w](const boost::system::error_code& ec) {
    if (ec) return;
    w->answer(error_reply(A::ERROR_TIMEOUT, "domain '" + w->name + "' acknowledged the " + w->how +
                                                " request but still runs after " +
                                                std::to_string(w->wait_timeout_s) + " s"));
  });
}

}  // namespace pv::pvd
