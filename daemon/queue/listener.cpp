// queue/listener: LISTEN connection, notification routing, reconnects.
#include "queue/listener.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <set>

namespace pgxq::queue {

Listener::Listener(std::shared_ptr<Core> core, std::vector<std::shared_ptr<Producer>> producers)
    : core_(std::move(core)), producers_(std::move(producers)) {}

Listener::~Listener() { stop(); }

void Listener::start() { thread_ = std::thread([this] { run(); }); }

void Listener::stop() {
  stop_.request();
  if (thread_.joinable()) thread_.join();
}

void Listener::listen(pg::Connection& conn) {
  std::set<std::string> channels;
  for (auto& p : producers_) channels.insert(p->table().notify_channel);
  for (auto& c : channels) conn.exec("LISTEN " + conn.quote_identifier(c));
}

void Listener::dispatch(std::string_view channel, std::string_view queue) {
  for (auto& p : producers_)
    if (p->table().notify_channel == channel && p->name() == queue) p->wake();
}

void Listener::wake_all() {
  for (auto& p : producers_) p->wake();
}

void Listener::run() {
  RetryBackoff backoff;
  while (!stop_.requested()) {
    std::unique_ptr<pg::Connection> conn;
    Health::TimePoint opened;
    try {
      conn = std::make_unique<pg::Connection>(core_->options.conninfo);
      opened = std::chrono::steady_clock::now();
      core_->prepare_session(*conn, "listener");
      listen(*conn);
      core_->health.ok("listener");
      backoff.reset();
      wake_all();  // anything inserted while we were not listening
    } catch (const pg::Error& e) {
      core_->health.failed("listener", e.what());
      if (stop_.sleep_for(backoff.next())) return;
      continue;
    }

    while (!stop_.requested()) {
      pollfd pfd{conn->socket(), POLLIN, 0};
      int rc = ::poll(&pfd, 1, 100);  // short timeout: the stop request is checked in between
      if (rc < 0 && errno != EINTR) break;
      if (rc <= 0) continue;
      if (!PQconsumeInput(conn->get())) {
        core_->health.failed("listener", PQerrorMessage(conn->get()), opened);
        break;
      }
      while (PGnotify* n = PQnotifies(conn->get())) {
        dispatch(n->relname, n->extra ? n->extra : "");
        PQfreemem(n);
      }
      if (PQstatus(conn->get()) != CONNECTION_OK) {
        core_->health.failed("listener", "connection closed", opened);
        break;
      }
    }
    if (!stop_.requested() && stop_.sleep_for(backoff.next())) return;
  }
}

}  // namespace pgxq::queue
