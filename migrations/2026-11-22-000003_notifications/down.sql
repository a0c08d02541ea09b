DROP VIEW ops.notifications;
DROP TABLE notification_attempts;
DROP TABLE notifications;
DROP FUNCTION wake_notifier();
