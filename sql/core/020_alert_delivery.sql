-- Alert delivery state (rules engine and alerts). Additive to 001.

-- Slack deliveries, one row per SNS MessageId: the notify-slack Lambda claims a message here before
-- posting, so SNS redelivery (at-least-once, up to 100,015 attempts) never posts the same alert
-- message twice once it was delivered. status: sending | sent.
CREATE TABLE IF NOT EXISTS {{core}}.slack_deliveries (
  message_id    VARCHAR(128)  NOT NULL,
  status        VARCHAR(16)   NOT NULL,
  attempts      INT           NOT NULL DEFAULT 1,
  claimed_at    DATETIME(3)   NOT NULL,
  delivered_at  DATETIME(3)   NULL,
  PRIMARY KEY (message_id),
  CONSTRAINT slack_deliveries_status CHECK (status IN ('sending', 'sent'))
);

