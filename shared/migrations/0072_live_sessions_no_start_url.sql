-- The host's start link carries the host's ZAK (whoever holds it can start, end and record the
-- meeting): it is never stored any more (issue 11). `POST .../sessions/{id}/start` fetches it
-- fresh from Zoom for the session's instructor, owners and admins.
ALTER TABLE live_sessions DROP COLUMN start_url;
