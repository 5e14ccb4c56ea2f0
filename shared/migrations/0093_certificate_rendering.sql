-- Certificate PDFs and the channel's certificate design (issue 13).
--
-- A certificate's PDF is rendered in the background (certificate_renderer) into the
-- certificates bucket; `pdf_object` names it once it is there, so the holder's list shows a
-- link only then. The channel's template (Jinja2 HTML + CSS, validated when saved) and its
-- logo and signature images live with the channel; the images are served to the renderer
-- from here, so rendering never fetches anything remote.
ALTER TABLE certificates ADD COLUMN pdf_object text CHECK (length(pdf_object) <= 300);
ALTER TABLE certificates ADD COLUMN pdf_rendered_at timestamptz;

CREATE TABLE certificate_templates (
    channel_id      uuid PRIMARY KEY REFERENCES channels (id),
    html            text NOT NULL CHECK (length(html) <= 65536),
    css             text NOT NULL CHECK (length(css) <= 65536),
    logo            bytea CHECK (length(logo) <= 262144),
    logo_type       text CHECK (logo_type IN ('image/png', 'image/jpeg')),
    signature       bytea CHECK (length(signature) <= 262144),
    signature_type  text CHECK (signature_type IN ('image/png', 'image/jpeg')),
    updated_by      uuid REFERENCES users (id),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((logo IS NULL) = (logo_type IS NULL)),
    CHECK ((signature IS NULL) = (signature_type IS NULL))
);
SELECT apply_tenant_policy('certificate_templates');

-- The channel's rule for batches: a student of a batch gets the certificate once every lesson
-- is complete and their live attendance rate reaches the threshold (no row: the default).
CREATE TABLE certificate_settings (
    channel_id            uuid PRIMARY KEY REFERENCES channels (id),
    attendance_threshold  numeric(4, 3) NOT NULL DEFAULT 0.75
                          CHECK (attendance_threshold >= 0 AND attendance_threshold <= 1),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
SELECT apply_tenant_policy('certificate_settings');
