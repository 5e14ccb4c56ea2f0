"""What every capability stands on: settings, logging, ids, errors, the database and its
transactions, the outbox, idempotent consumers, the audit log, rate limits, migrations.

Import its modules directly (`from shared.platform.db import transaction`); this package
itself exports nothing, so importing it costs nothing."""
