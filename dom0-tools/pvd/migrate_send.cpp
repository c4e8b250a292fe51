// The source end of pvctl migrate --offline (docs/save-format.md,
// "Migration"), as xl migrate without live pre-copy:
//
//  1. pvd connects to the target pvd over TLS 1.3 (both certificates
//     checked against --migrate-ca, the target's also against HOST) and
//     offers the domain by name; the target answers ready or why not. Until
//     here the guest is untouched.
//  2. A held checkpoint (op kCheckpointToFileHeld, as snapshot-create): the
//     guest suspends cooperatively (front-ends quiesced, nothing in flight)
//     and pv-hv writes its stream to <state>/migrate-out/NAME.pvsave, every
//     vCPU then held still.
//  3. pvd sends the stream; the target restores it (its pv-backd opens the
//     same disk images: shared storage; the source's back-ends issue
//     nothing more, the guest being held) and answers.
//  4. OK: the domain is destroyed here (it runs there). Anything else (the
//     target refuses, the link or TLS fails, the deadline passes): pvd
//     releases the guest, which goes on here (its suspend cancelled).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "domain_manager.h"
#include "migrate_receive.h"
#include "migrate_wire.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/unique_fd.h"
#include "save_call.h"

namespace pv::pvd {
namespace A = pv::admin;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {
constexpr uint32_t kDefaultTimeoutMs = 60'000;
constexpr uint32_t kMaxHoldMs = 60'000;  // pv-hv's own limit on a held checkpoint (op 83)
constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kProgressEvery = uint64_t{16} << 20;

uint64_t ms_since(Clock::time_point t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// One migration, across its callbacks on pvd's loop.
struct MigrateRun {
  MigrateRun(asio::io_context& io, ssl::context tls_ctx)
      : ctx(std::move(tls_ctx)), resolver(io), stream(io, ctx), deadline(io) {}
  ssl::context ctx;
  tcp::resolver resolver;
  ssl::stream<tcp::socket> stream;
  asio::steady_timer deadline;
  std::string name, host, target, path, out, message;
  uint32_t domid = 0;
  UniqueFd file;
  std::shared_ptr<SaveCall> call;
  bool written = false;   // the guest is held
  bool settled = false;   // the outcome is known (replied or destroying)
  char answer[migrate::kAnswerFixed]{};
  std::vector<char> buf;
  uint64_t total = 0, sent = 0, next_progress = kProgressEvery;
  Clock::time_point start = Clock::now(), held_at{}, sending_at{};
  DomainManager::ReplyFn reply;
};
}  // namespace

void DomainManager::migrate(Domain& d, const A::MigrateRequest& r, ReplyFn reply) {
  const std::string& name = d.rec.name();
  if (!d.proc || d.rec.state() != A::STATE_RUNNING)
    return reply(error_reply(A::ERROR_INVALID_STATE, "domain '" + name + "' is not running"));
  if (d.saving) return reply(error_reply(A::ERROR_INVALID_STATE, "a save of domain '" + name + "' is under way"));
  if (r.host().empty()) return reply(error_reply(A::ERROR_BAD_REQUEST, "migrate: no target host"));
  if (r.port() > 65535) return reply(error_reply(A::ERROR_BAD_REQUEST, "migrate: port " + std::to_string(r.port())));
  const uint32_t timeout_ms = r.timeout_ms() ? r.timeout_ms() : kDefaultTimeoutMs;
  // pv-hv holds a checkpointed guest at most kMaxHoldMs and then lets it go
  // by itself: the whole migration must end (OK, or released by pvd)
  // before, or the guest could go on here while the target restores it.
  if (timeout_ms > kMaxHoldMs)
    return reply(error_reply(A::ERROR_BAD_REQUEST, "migrate: a timeout is at most " + std::to_string(kMaxHoldMs / 1000) +
                                                       " s (pv-hv holds a checkpointed guest no longer)"));
  std::shared_ptr<MigrateRun> run;
  try {
    run = std::make_shared<MigrateRun>(io_, make_tls_context(migrate_tls_, false));
  } catch (const std::exception& e) {
    return reply(error_reply(A::ERROR_INVALID_STATE, std::string("migrate: this pvd cannot: ") + e.what() +
                                                         " (pvd's options --migrate-cert, --migrate-key, --migrate-ca)"));
  }
  const uint16_t port = r.port() ? static_cast<uint16_t>(r.port()) : migrate::kDefaultPort;
  run->name = name;
  run->domid = d.rec.domid();
  run->host = r.host();
  run->target = (r.host().find(':') != std::string::npos ? "[" + r.host() + "]" : r.host()) + ":" + std::to_string(port);
  run->path = registry_.state_dir() + "/migrate-out/" + name + ".pvsave";
  run->reply = std::move(reply);
  // The target's certificate must name HOST (an address in its IP SANs, a
  // name in its DNS SANs), besides being signed by the CA.
  run->stream.set_verify_callback(ssl::host_name_verification(r.host()));
  d.saving = true;

  const std::string node = "/local/domain/" + std::to_string(run->domid) + "/control/shutdown";
  // Ends the run once: on failure the guest goes on here.
  auto finish = std::make_shared<std::function<void(A::ErrorCode, const std::string&)>>();
  *finish = [this, run, node](A::ErrorCode code, const std::string& why) {
    if (run->settled) return;
    run->settled = true;
    run->deadline.cancel();
    run->resolver.cancel();
    boost::system::error_code ec;
    run->stream.next_layer().close(ec);
    run->file.reset();
    ::unlink(run->path.c_str());
    if (run->written && run->call && !run->call->release())
      log::warning("domain " + run->name + ": cannot tell pv-hv to go on (it will by itself)");
    auto it = domains_.find(run->domid);
    if (it != domains_.end()) {
      if (!run->call) it->second->saving = false;  // else once pv-hv's op ends
      if (auto v = xenstore_.read(node); v && *v == "suspend") xenstore_.write(node, "");
    }
    const std::string msg = "migrate " + run->name + " to " + run->target + ": " + why +
                            (run->call ? "; the domain goes on here" : "; the domain was not touched");
    log::warning("domain " + run->name + ": " + msg);
    run->reply(error_reply(code, msg));
  };
  auto fail = [finish](const std::string& why) { (*finish)(A::ERROR_INVALID_STATE, why); };

  run->deadline.expires_after(std::chrono::milliseconds(timeout_ms));
  run->deadline.async_wait([fail, timeout_ms](const boost::system::error_code& ec) {
    if (!ec) fail("not done within " + std::to_string(timeout_ms / 1000) + " s (--timeout)");
  });

  // 4. The target's answer to the stream.
  auto read_answer = std::make_shared<std::function<void(std::function<void(bool, const std::string&)>)>>();
  *read_answer = [run, fail](std::function<void(bool, const std::string&)> then) {
    asio::async_read(run->stream, asio::buffer(run->answer),
                     [run, fail, then](const boost::system::error_code& ec, size_t) {
                       if (run->settled) return;
                       if (ec) return fail("no answer from the target: " + tls_error_text(ec));
                       bool ok = false;
                       const auto p = migrate::parse_answer_fixed(run->answer, ok);
                       if (!p.error.empty()) return fail(p.error);
                       run->message.assign(p.value, '\0');
                       asio::async_read(run->stream, asio::buffer(run->message),
                                        [run, fail, then, ok](const boost::system::error_code& e2, size_t) {
                                          if (run->settled) return;
                                          if (e2) return fail("the target's answer is cut short: " + tls_error_text(e2));
                                          then(ok, run->message);
                                        });
                     });
  };
  auto migrated = [this, run, fail](bool ok, const std::string& message) {
    if (!ok) return fail("the target refused: " + message);
    run->settled = true;
    run->deadline.cancel();
    A::Reply rep;
    auto* m = rep.mutable_migrated();
    m->set_target(run->target);
    m->set_bytes(run->total);
    m->set_total_ms(ms_since(run->start));
    m->set_held_ms(ms_since(run->held_at));
    run->file.reset();
    ::unlink(run->path.c_str());
    log::info("domain " + run->name + ": migrated to " + run->target + " (" + std::to_string(run->total) +
              " bytes, " + std::to_string(m->total_ms()) + " ms in all, held " + std::to_string(m->held_ms()) +
              " ms); destroying it here");
    boost::system::error_code ec;
    run->stream.next_layer().close(ec);
    auto it = domains_.find(run->domid);
    if (it == domains_.end()) return run->reply(rep);
    it->second->saving = false;
    destroy(*it->second, [run, rep](const A::Reply&) { run->reply(rep); });
  };
  // 3. The stream, chunk by chunk from the file.
  auto send_chunk = std::make_shared<std::function<void()>>();
  *send_chunk = [run, fail, weak = std::weak_ptr(send_chunk), read_answer, migrated] {
    auto self = weak.lock();
    if (!self) return;
    if (run->settled) return;
    if (run->sent == run->total) {
      log::info("domain " + run->name + ": " + std::to_string(run->total) + " bytes sent to " + run->target + " in " +
                std::to_string(ms_since(run->sending_at)) + " ms; the target restores it");
      return (*read_answer)(migrated);
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, run->total - run->sent));
    const ssize_t got = ::pread(run->file.get(), run->buf.data(), n, static_cast<off_t>(run->sent));
    if (got != static_cast<ssize_t>(n))
      return fail("cannot read " + run->path + ": " + (got < 0 ? std::strerror(errno) : "short read"));
    asio::async_write(run->stream, asio::buffer(run->buf.data(), n),
                      [run, fail, send_chunk = self, n](const boost::system::error_code& ec, size_t) {
                        if (run->settled) return;
                        if (ec) return fail("sending the stream: " + tls_error_text(ec));
                        run->sent += n;
                        if (run->sent >= run->next_progress) {
                          run->next_progress += kProgressEvery;
                          log::info("domain " + run->name + ": migrate: " + std::to_string(run->sent >> 20) + " of " +
                                    std::to_string(run->total >> 20) + " MiB sent, " +
                                    std::to_string(ms_since(run->sending_at)) + " ms");
                        }
                        (*send_chunk)();
                      });
  };
  auto written = [run, fail, send_chunk] {
    run->written = true;
    if (run->settled) {  // failed meanwhile: the guest goes on at once
      run->call->release();
      return;
    }
    struct stat st{};
    if (::fstat(run->file.get(), &st) != 0 || st.st_size <= 0) return fail("pv-hv wrote no stream");
    run->total = static_cast<uint64_t>(st.st_size);
    run->buf.resize(kChunk);
    run->sending_at = Clock::now();
    log::info("domain " + run->name + ": held; sending " + std::to_string(run->total) + " bytes to " + run->target);
    run->out = migrate::encode_length(run->total);
    asio::async_write(run->stream, asio::buffer(run->out), [run, fail, send_chunk](const boost::system::error_code& ec, size_t) {
      if (run->settled) return;
      if (ec) return fail("sending the stream: " + tls_error_text(ec));
      (*send_chunk)();
    });
  };
  // 2. The held checkpoint, once the target is ready.
  auto checkpoint = [this, run, fail, written, node, timeout_ms] {
    UniqueFd config;
    try {
      std::error_code ec;
      fs::create_directories(fs::path(run->path).parent_path(), ec);
      run->file = UniqueFd(::open(run->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!run->file) throw_errno("cannot create " + run->path);
      auto it = domains_.find(run->domid);
      if (it == domains_.end()) return fail("the domain ended meanwhile");
      config = toolstack_record(it->second->rec);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    auto armed = [this, node, run] {
      run->held_at = Clock::now();  // from here the guest may stop any moment
      if (!xenstore_.write(node, "suspend")) log::warning("migrate: cannot write " + node);
      log::info("domain " + run->name + ": asked to suspend for a migration to " + run->target);
    };
    auto outcome = [this, run, fail, timeout_ms](int32_t status, const std::string& lost) {
      auto it = domains_.find(run->domid);
      if (it != domains_.end()) it->second->saving = false;  // pv-hv's op is over
      if (run->settled) return;
      if (!lost.empty()) return fail("pv-hv: " + lost);
      if (status == -ETIMEDOUT) return fail("the guest did not suspend within " + std::to_string(timeout_ms / 1000) + " s");
      fail(status ? "pv-hv: " + std::string(std::strerror(-status)) : "pv-hv let the guest go before the target answered");
    };
    // pv-hv's op is over: the call no longer holds the run (its callbacks do).
    auto done = [run, outcome](int32_t status, const std::string& lost) {
      outcome(status, lost);
      run->call.reset();
    };
    try {
      run->call = SaveCall::start(io_, registry_.control_socket(run->domid), ctl::Op::kCheckpointToFileHeld, timeout_ms,
                                  {run->file.get(), config.get()}, armed, done, written);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  };
  // 1. Connect, TLS, the offer and the target's answer.
  log::info("domain " + name + ": migrating to " + run->target);
  run->resolver.async_resolve(
      r.host(), std::to_string(port),
      [run, fail, read_answer, checkpoint](const boost::system::error_code& ec, tcp::resolver::results_type eps) {
        if (run->settled) return;
        if (ec) return fail("cannot resolve " + run->host + ": " + ec.message());
        asio::async_connect(
            run->stream.next_layer(), eps,
            [run, fail, read_answer, checkpoint](const boost::system::error_code& e2, const tcp::endpoint&) {
              if (run->settled) return;
              if (e2) return fail("cannot connect: " + e2.message() + " (is a pvd there started with --migrate-listen?)");
              run->stream.async_handshake(
                  ssl::stream_base::client, [run, fail, read_answer, checkpoint](const boost::system::error_code& e3) {
                    if (run->settled) return;
                    if (e3) return fail("TLS handshake failed: " + tls_error_text(e3));
                    run->out = migrate::encode_offer(run->name);
                    asio::async_write(run->stream, asio::buffer(run->out),
                                      [run, fail, read_answer, checkpoint](const boost::system::error_code& e4, size_t) {
                                        if (run->settled) return;
                                        if (e4) return fail("sending the offer: " + tls_error_text(e4));
                                        (*read_answer)([run, fail, checkpoint](bool ok, const std::string& m) {
                                          if (!ok) return fail("the target refused: " + m);
                                          checkpoint();
                                        });
                                      });
                  });
            });
      });
}

bool DomainManager::has_domain_named(const std::string& name) {
  for (const auto& [id, d] : domains_)
    if (d->rec.name() == name) return true;
  return false;
}

void DomainManager::receive_migration(const std::string& path, const std::string& name, ReplyFn reply) {
  if (has_domain_named(name))
    return reply(error_reply(A::ERROR_EXISTS, "a domain named '" + name + "' exists on the target already"));
  restore_from_file(path, name, nullptr, std::move(reply));
}

}  // namespace pv::pvd
