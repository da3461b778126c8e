// matview: refreshes a materialized view in the job's transaction. Kind `refresh_matview`,
// args {"view": "schema.name" | "name", "concurrently": true|false (default false)}.
// The view name is validated (one or two parts, each a plain identifier) and quoted, so it is
// taken literally, case included, as it is stored in the catalog. An unknown view (or a
// CONCURRENTLY refresh the view does not allow) is a discard carrying the server's message:
// retrying cannot help, and so are args it cannot use. Other database errors retry with
// backoff.
#include <pgxq/plugin.hpp>

#include <string>
#include <string_view>

namespace {

bool valid_identifier(std::string_view part) {
  if (part.empty() || part.size() > 63) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(part[0])) return false;
  for (char c : part)
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '$') return false;
  return true;
}

// "schema.name" -> "\"schema\".\"name\""; empty when invalid. Validated parts contain no
// quote character, so wrapping each in double quotes is complete quoting.
std::string quoted_view(std::string_view view) {
  std::string out;
  auto dot = view.find('.');
  std::string_view first = view.substr(0, dot);
  if (!valid_identifier(first)) return {};
  out += '"';
  out += first;
  out += '"';
  if (dot != std::string_view::npos) {
    std::string_view second = view.substr(dot + 1);
    if (!valid_identifier(second)) return {};
    out += ".\"";
    out += second;
    out += '"';
  }
  return out;
}

// Errors that no retry can fix: undefined table/schema, wrong object type, a CONCURRENTLY
// refresh without a unique index or on an unpopulated view, missing privilege.
bool permanent(const std::string& sqlstate) {
  return sqlstate == "42P01" || sqlstate == "3F000" || sqlstate == "42809" || sqlstate == "55000" ||
         sqlstate == "42501" || sqlstate == "0A000";
}

}  // namespace

PGXQ_PLUGIN("matview", "1.0.0", [](pgxq::Plugin& p) {
  p.handle("refresh_matview", [](pgxq::Job& job) -> pgxq::Outcome {
    std::string_view view;
    bool concurrently = false;
    try {
      view = job.arg<std::string_view>("view");
      concurrently = job.arg_or<bool>("concurrently", false);
    } catch (const pgxq::ArgError& e) {
      return pgxq::Discard{e.what()};
    }
    std::string quoted = quoted_view(view);
    if (quoted.empty())
      return pgxq::Discard{"args: \"view\" must be \"name\" or \"schema.name\" with identifiers of letters, "
                           "digits, _ or $ (got \"" + std::string(view) + "\")"};
    std::string sql = std::string("REFRESH MATERIALIZED VIEW ") + (concurrently ? "CONCURRENTLY " : "") + quoted;
    try {
      job.exec(sql);
    } catch (const pgxq::HostError& e) {
      if (permanent(e.sqlstate())) return pgxq::Discard{e.what()};
      return pgxq::Retry{e.what()};
    }
    job.info("refreshed materialized view " + quoted + (concurrently ? " concurrently" : ""));
    return pgxq::Complete{};
  });
});
