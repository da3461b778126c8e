// The status page in a real browser (Debian's headless chromium) against a seeded table, served
// by the real pgxqd (the banners' failures by the same routes in-process): the counts it draws, a failure text full of markup shown as text with nothing run, the banners
// for an unreachable database and a failing API, and a screenshot (PNG) in the build tree.
// One browser run per test: chromium is slow to start on a busy machine.
#include <doctest/doctest.h>

#include <spdlog/logger.h>

#include <filesystem>
#include <regex>

#include "app/status_api.hpp"
#include "http/status_page.hpp"
#include "page_support.hpp"

namespace {

using namespace std::chrono_literals;

// The page's routes and /api/status on a loopback port, as pgxqd serves them.
class PageServer {
public:
  explicit PageServer(pgxq::app::StatusApiOptions options, pgxq::http::Route api_override = {})
      : api_(std::move(options), &throughput_) {
    auto routes = pgxq::http::status_page_routes();
    routes["/api/status"] = api_override ? api_override : [this](const pgxq::http::Request& r) { return api_.handle(r); };
    server_ = std::make_unique<pgxq::http::Server>("127.0.0.1:0", std::move(routes), std::make_shared<spdlog::logger>("page"));
    server_->start();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_->port()) + path; }

private:
  pgxq::app::Throughput throughput_;
  pgxq::app::StatusApi api_;
  std::unique_ptr<pgxq::http::Server> server_;
};

// The <tr> the page drew for `queue` and `kind` of `table`, empty when none.
std::string row(const std::string& dom, const std::string& table, const std::string& queue, const std::string& kind) {
  std::smatch m;
  std::regex re("<tr data-table=\"" + table + "\" data-queue=\"" + queue + "\" data-kind=\"" + kind + "\">.*?</tr>");
  return std::regex_search(dom, m, re) ? m[0].str() : std::string();
}

bool cell(const std::string& row, const std::string& column, const std::string& text) {
  return std::regex_search(row, std::regex("<td class=\"n " + column + "[^\"]*\">" + text + "</td>"));
}

bool is_png(const std::string& path) {
  if (!std::filesystem::exists(path)) return false;
  auto bytes = pgxq::test::read_file(path);
  return bytes.size() > 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0;
}

std::optional<std::string> browser_or_skip() {
  auto browser = pgxq::test::chromium_path();
  if (!browser) MESSAGE("chromium is not installed (scripts/install-deps installs it): skipping the browser test");
  return browser;
}

}  // namespace

TEST_CASE("status page in chromium: the seeded counts, paused queue and failures, markup in an error shown as text") {
  auto browser = browser_or_skip();
  if (!browser) return;
  pgxq::test::TempTable table("page_dom");
  pgxq::test::seed_status_table(table.name());
  pgxq::test::PageDaemon server(table.name());  // the real pgxqd, serving [http]

  const std::string screenshot = std::string(PGXQ_BUILD_DIR) + "/status-page.png";
  std::filesystem::remove(screenshot);
  auto load = pgxq::test::load_in_chromium(*browser, server.url("/"), screenshot);
  INFO("chromium stderr: " << load.err);
  INFO("DOM: " << load.dom);
  REQUIRE(load.code == 0);

  auto mail = row(load.dom, table.name(), "mail", "email.send");
  REQUIRE_FALSE(mail.empty());
  CHECK(cell(mail, "available", "7"));
  CHECK(cell(mail, "scheduled", "2"));
  CHECK(cell(mail, "running", "1"));
  CHECK(cell(mail, "completed_last_hour", "4"));
  CHECK(cell(mail, "failed_last_hour", "1"));
  CHECK(cell(mail, "discarded_last_hour", "1"));
  CHECK(cell(mail, "oldest_due", "[0-9]+m( [0-9]+s)?"));  // due 90 s before the page read it
  auto reports = row(load.dom, table.name(), "reports", "report.pdf");
  REQUIRE_FALSE(reports.empty());
  CHECK(cell(reports, "available", "5"));
  CHECK(reports.find("class=\"badge paused\"") != std::string::npos);
  CHECK(mail.find("badge paused") == std::string::npos);

  // The hostile error is text in a <pre>: escaped in the serialised DOM, no element made of it.
  CHECK(load.dom.find("<pre class=\"error\">&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x "
                      "onerror=alert(1)&gt;</pre>") != std::string::npos);
  CHECK(load.dom.find("<pre class=\"error\">gave up: smtp 550</pre>") != std::string::npos);
  CHECK(load.dom.find("<title>pgxqd status</title>") != std::string::npos);
  CHECK(load.dom.find("pwned</title>") == std::string::npos);
  CHECK(load.dom.find("<img") == std::string::npos);
  CHECK(std::regex_search(load.dom, std::regex("<script[^>]*src=\"/status.js\"")));
  int scripts = 0;
  for (auto at = load.dom.find("<script"); at != std::string::npos; at = load.dom.find("<script", at + 1)) ++scripts;
  CHECK(scripts == 1);
  CHECK(load.dom.find("id=\"banner\" class=\"banner hidden\"") != std::string::npos);

  CHECK(is_png(screenshot));
}

TEST_CASE("status page in chromium: a daemon that cannot reach the database says so in the banner") {
  auto browser = browser_or_skip();
  if (!browser) return;
  pgxq::app::StatusApiOptions options;
  options.conninfo = "postgresql://pgxq:s3cretpw@127.0.0.1:1/pgxq?connect_timeout=2";
  PageServer server(options);
  auto dir = pgxq::test::temp_dir("page-shot");
  auto load = pgxq::test::load_in_chromium(*browser, server.url("/"), dir + "/down.png");
  std::filesystem::remove_all(dir);
  INFO("DOM: " << load.dom);
  REQUIRE(load.code == 0);
  CHECK(std::regex_search(load.dom, std::regex("<div id=\"banner\" class=\"banner\" role=\"alert\" "
                                               "data-state=\"database-down\">pgxqd cannot reach the database: [^<]+</div>")));
  CHECK(load.dom.find("s3cretpw") == std::string::npos);
}

TEST_CASE("status page in chromium: an API that fails is shown as a failed load, not as figures") {
  auto browser = browser_or_skip();
  if (!browser) return;
  pgxq::app::StatusApiOptions options;
  options.conninfo = pgxq::test::conninfo();
  PageServer server(options, [](const pgxq::http::Request&) {
    pgxq::http::Response r;
    r.status = 500;
    r.body = "internal error\n";
    return r;
  });
  auto dir = pgxq::test::temp_dir("page-shot");
  auto load = pgxq::test::load_in_chromium(*browser, server.url("/"), dir + "/failing.png");
  std::filesystem::remove_all(dir);
  INFO("DOM: " << load.dom);
  REQUIRE(load.code == 0);
  CHECK(std::regex_search(load.dom, std::regex("data-state=\"fetch-failed\">Cannot load /api/status from pgxqd: HTTP 500</div>")));
  CHECK(load.dom.find("<div id=\"queues\"><p class=\"muted\">No data yet.</p></div>") != std::string::npos);
}
