#include "store/notification_store.hpp"

#include <stdexcept>
#include <string>

namespace emporium::notification::store {
namespace {

using db::Row;
using db::Tx;
using domain::Notification;

constexpr std::string_view kColumns =
    "id, channel, recipient, subject, body_text, body_html, status, attempts, last_error, "
    "provider_id, event_id, event_type, template, user_id, created_at, updated_at, sent_at";

Notification notification_of(const Row& row) {
  Notification n;
  n.id = row.text(0);
  const auto channel = domain::parse_channel(row.text(1));
  const auto status = domain::parse_status(row.text(6));
  if (!channel || !status) throw std::logic_error("notifications row " + n.id + " is malformed");
  n.channel = *channel;
  n.recipient = row.text(2);
  n.subject = row.opt_text(3);
  n.text = row.text(4);
  n.html = row.opt_text(5);
  n.status = *status;
  n.attempts = static_cast<int>(row.integer(7));
  n.last_error = row.opt_text(8);
  n.provider_id = row.opt_text(9);
  n.event_id = row.opt_text(10);
  n.event_type = row.opt_text(11);
  n.template_name = row.opt_text(12);
  n.user_id = row.opt_text(13);
  n.created_at_ms = row.integer(14);
  n.updated_at_ms = row.integer(15);
  n.sent_at_ms = row.opt_integer(16);
  return n;
}

}  // namespace

bool insert(Tx& tx, const Notification& n) {
  // ON CONFLICT DO NOTHING: the event's second notification on a channel is no error, and on
  // PostgreSQL a unique violation would abort the whole transaction.
  return tx.exec(
             "INSERT INTO notifications (id, channel, recipient, subject, body_text, body_html, "
             "status, attempts, event_id, event_type, template, user_id, created_at, updated_at) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, $12) "
             "ON CONFLICT DO NOTHING",
             {n.id, std::string(domain::channel_name(n.channel)), n.recipient,
              db::nullable(n.subject), n.text, db::nullable(n.html),
              std::string(domain::status_name(n.status)), db::nullable(n.event_id),
              db::nullable(n.event_type), db::nullable(n.template_name), db::nullable(n.user_id),
              n.created_at_ms}) == 1;
}

std::optional<Notification> find(Tx& tx, std::string_view id) {
  const auto result = tx.query(
      "SELECT " + std::string(kColumns) + " FROM notifications WHERE id = $1", {std::string(id)});
  if (result.empty()) return std::nullopt;
  return notification_of(result.one());
}

Page list(Tx& tx, std::optional<domain::Status> status, std::int64_t offset, std::int64_t limit) {
  Page page;
  const std::string where = status ? " WHERE status = $3" : "";
  db::Params params{limit, offset};
  if (status) params.emplace_back(std::string(domain::status_name(*status)));
  for (const auto& row :
       tx.query("SELECT " + std::string(kColumns) + " FROM notifications" + where +
                    " ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2",
                params)
           .rows) {
    page.items.push_back(notification_of(row));
  }
  db::Params count_params;
  if (status) count_params.emplace_back(std::string(domain::status_name(*status)));
  page.total = tx.query(std::string("SELECT COUNT(*) FROM notifications") +
                            (status ? " WHERE status = $1" : ""),
                        count_params)
                   .one()
                   .integer(0);
  return page;
}

std::int64_t purge_final(Tx& tx, std::int64_t before_ms, int batch) {
  return tx.exec(
      "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE status IN "
      "('sent', 'failed') AND updated_at < $1 LIMIT $2)",
      {before_ms, static_cast<std::int64_t>(batch)});
}

void record(Tx& tx, std::string_view id, const Progress& p) {
  const bool sent = p.status == domain::Status::Sent;
  tx.exec(
      "UPDATE notifications SET status = $2, attempts = $3, last_error = COALESCE($4, last_error), "
      "provider_id = COALESCE($5, provider_id), updated_at = $6, "
      "sent_at = CASE WHEN $7 = 1 THEN $6 ELSE sent_at END WHERE id = $1 AND status = 'queued'",
      {std::string(id), std::string(domain::status_name(p.status)),
       static_cast<std::int64_t>(p.attempts), db::nullable(p.last_error),
       db::nullable(p.provider_id), p.at_ms, std::int64_t{sent ? 1 : 0}});
}

}  // namespace emporium::notification::store
