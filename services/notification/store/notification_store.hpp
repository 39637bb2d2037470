// notification-service persistence: free functions on the caller's transaction, so a notification
// and its delivery item (and, for an event, the processed-event record) commit together.
#pragma once

#include "domain/notification.hpp"

#include <emporium/db/database.hpp>

#include <optional>
#include <string_view>
#include <vector>

namespace emporium::notification::store {

// False when a notification of the same event and channel exists already (nothing written).
bool insert(db::Tx& tx, const domain::Notification& notification);
std::optional<domain::Notification> find(db::Tx& tx, std::string_view id);

struct Page {
  std::vector<domain::Notification> items;
  std::int64_t total = 0;
};
// Newest first; `status` filters when set.
Page list(db::Tx& tx, std::optional<domain::Status> status, std::int64_t offset,
          std::int64_t limit);

// The delivery's progress as the worker records it: attempts and last error always; status,
// provider id and sent time when it ended.
struct Progress {
  domain::Status status = domain::Status::Queued;
  int attempts = 0;
  std::optional<std::string> last_error;
  std::optional<std::string> provider_id;
  std::int64_t at_ms = 0;
};
// Deletes up to `batch` sent or failed notifications last changed before `before_ms`; returns how
// many (retention: NOTIFICATION_RETENTION_DAYS).
std::int64_t purge_final(db::Tx& tx, std::int64_t before_ms, int batch);

// Only a queued row changes: a final status is never overwritten.
void record(db::Tx& tx, std::string_view id, const Progress& progress);

}  // namespace emporium::notification::store
