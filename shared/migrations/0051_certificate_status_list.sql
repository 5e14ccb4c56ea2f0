-- Revocation as a Bitstring Status List (W3C), one list per channel (issue 13): each
-- certificate holds a position in its channel's list; the published, signed list credential
-- has that bit set once the certificate is revoked. Positions are handed out by a per-channel
-- counter row, so concurrent issuances in one channel never share one.
CREATE TABLE certificate_status_lists (
    channel_id  uuid PRIMARY KEY REFERENCES channels (id),
    next_index  int NOT NULL DEFAULT 0 CHECK (next_index >= 0 AND next_index <= 131072)
);
SELECT apply_tenant_policy('certificate_status_lists');

ALTER TABLE certificates ADD COLUMN status_index int CHECK (status_index >= 0 AND status_index < 131072);
CREATE UNIQUE INDEX certificates_status_index ON certificates (channel_id, status_index);

-- Certificates issued before this migration get positions in issue order.
UPDATE certificates z SET status_index = n.i
  FROM (SELECT id, row_number() OVER (PARTITION BY channel_id ORDER BY issued_at, id) - 1 AS i
          FROM certificates) n
 WHERE n.id = z.id;
INSERT INTO certificate_status_lists (channel_id, next_index)
SELECT channel_id, count(*) FROM certificates GROUP BY channel_id;
ALTER TABLE certificates ALTER COLUMN status_index SET NOT NULL;
