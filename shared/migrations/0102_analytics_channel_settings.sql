-- Creator analytics per channel (issue 14, item 2): the time zone of the channel's day
-- boundaries, and the certificate figures.
--
-- A creator in Tokyo reads "yesterday" as Tokyo's yesterday: the summary and its CSV use the
-- channel's time zone unless the request names one (`tz`). The name is an IANA zone, checked
-- by the service (zoneinfo) before it is stored; 'UTC' when the channel never set one.
CREATE TABLE analytics_settings (
    channel_id  uuid PRIMARY KEY REFERENCES channels (id),
    timezone    text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 64),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
SELECT apply_tenant_policy('analytics_settings');

-- Certificate views are read from the raw events (their metadata names the certificate, not
-- its course; the course filter joins the certificate): a few rows per certificate among
-- millions of heartbeats, so they get an index of their own.
CREATE INDEX analytics_events_certificate_views ON analytics_events (channel_id, occurred_at)
    WHERE event_type IN ('certificate.viewed', 'certificate.verified');
