// queue/listener: LISTEN connection, notification routing, reconnects.
#include "queue/listener.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <set>

#include "queue/session.hpp"

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
  Session session(*core_, "listener", "listener", [this](pg::Connection& conn) { listen(conn); });
  while (!stop_.requested()) {
    pg::Connection* conn = nullptr;
    try {
      conn = &session.connection();
      session.ok();
      wake_all();  // anything inserted while we were not listening
    } catch (const pg::Error& e) {
      // Listening is all this connection is for: any failure to set it up counts as an outage.
      session.lost(e.what());
      if (stop_.sleep_for(session.next_backoff())) return;
      continue;
    }

    while (!stop_.requested()) {
      pollfd pfd{conn->socket(), POLLIN, 0};
      int rc = ::poll(&pfd, 1, 100);  // short timeout: the stop request is checked in between
      if (rc < 0 && errno != EINTR) break;
      if (rc <= 0) continue;
      if (!PQconsumeInput(conn->get())) {
        session.lost(PQerrorMessage(conn->get()));
        break;
      }
      while (PGnotify* n = PQnotifies(conn->get())) {
        dispatch(n->relname, n->extra ? n->extra : "");
        PQfreemem(n);
      }
      if (PQstatus(conn->get()) != CONNECTION_OK) {
        session.lost("connection closed");
        break;
      }
    }
    session.close();  // after a poll error too: listen again on a new connection
    if (!stop_.requested() && stop_.sleep_for(session.next_backoff())) return;
  }
}

}  // namespace pgxq::queue
