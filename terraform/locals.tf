# Everything this module deploys is derived from shared/resources.yaml, the same list the local
# stack builds from. This file holds only values computed from that list and from variables (no
# resource references), so tests/infra can evaluate it offline with `terraform console`.

locals {
  resources = yamldecode(file("${path.module}/../shared/resources.yaml"))

  # --- functions -------------------------------------------------------------------------------
  functions = { for f in local.resources.functions : f.name => f }

  # Public HTTP route families: behind the external HTTPS load balancer.
  http_functions = {
    for k, f in local.functions : k => f if f.trigger == "http" && !try(f.internal, false)
  }
  # Crons: called only by Cloud Scheduler (and Workflows) with OIDC, never on the load balancer.
  internal_functions = { for k, f in local.functions : k => f if try(f.internal, false) }
  # Cloud Tasks targets and Pub/Sub push targets: OIDC only.
  task_functions   = { for k, f in local.functions : k => f if f.trigger == "task" }
  pubsub_functions = { for k, f in local.functions : k => f if f.trigger == "pubsub" }

  # Cloud Run (gen2) service names allow no underscores.
  function_service_names = { for k in keys(local.functions) : k => replace(k, "_", "-") }
  # The gen2 function URL that is known before the function exists (the run.app URL is not),
  # for callers configured at deploy time: Cloud Tasks targets (TASK_TARGETS). The OIDC
  # audience Cloud Tasks puts in its token is this URL, the function's own.
  function_urls = {
    for k, n in local.function_service_names : k => "https://${var.region}-${var.project}.cloudfunctions.net/${n}"
  }

  # Load balancer route rules: every route template of every public HTTP function, in list
  # order. The priority is the position, so the first matching template wins, exactly as in the
  # local gateway.
  route_list = flatten([
    for f in local.resources.functions : [
      for r in try(f.routes, []) : { function = f.name, template = r }
    ] if f.trigger == "http" && !try(f.internal, false)
  ])
  routes = [for i, r in local.route_list : merge(r, { priority = i + 1 })]

  # --- service accounts ------------------------------------------------------------------------
  # One service account per function (account ids: 6-30 chars, [a-z][a-z0-9-]).
  function_sa_ids    = { for k in keys(local.functions) : k => "fn-${replace(k, "_", "-")}" }
  function_sa_emails = { for k, id in local.function_sa_ids : k => "${id}@${var.project}.iam.gserviceaccount.com" }
  # Cloud SQL IAM database user of a service account: its email without ".gserviceaccount.com".
  function_db_users = { for k, id in local.function_sa_ids : k => "${id}@${var.project}.iam" }
  # Database roles beside platform_app: the cross-channel SQL functions each may call
  # (migration 0042_system_function_grants.sql creates the roles and grants them).
  function_db_roles = {
    outbox_sweeper        = ["platform_fn_outbox_sweeper"]
    live_sweeper          = ["platform_fn_live_sweeper"]
    analytics_maintenance = ["platform_fn_analytics_maintenance"]
    stripe_webhook        = ["platform_fn_stripe_webhook"]
    billing_reconcile     = ["platform_fn_billing_reconcile"]
    search                = ["platform_fn_search"]
    certificates          = ["platform_fn_certificates"]
    analytics             = ["platform_fn_analytics"]
    live_webhook          = ["platform_fn_live_webhook"]
    live_reminders        = ["platform_fn_live_reminders"]
    community_digest      = ["platform_fn_community_digest"]
    privacy_worker        = ["platform_fn_privacy_worker"]
    retention             = ["platform_fn_retention"]
  }

  migrate_sa_id    = "db-migrate"
  migrate_db_user  = "${local.migrate_sa_id}@${var.project}.iam"
  pubsub_push_sa   = "pubsub-push"
  tasks_invoker_sa = "tasks-invoker"
  scheduler_sa     = "scheduler-invoker"
  workflows_sa     = "workflows-runner"
  builder_sa       = "functions-builder"
  caller_members = {
    for k, id in {
      push      = local.pubsub_push_sa
      tasks     = local.tasks_invoker_sa
      cron      = local.scheduler_sa
      workflows = local.workflows_sa
    } : k => "serviceAccount:${id}@${var.project}.iam.gserviceaccount.com"
  }

  # Who may invoke which function (roles/run.invoker on its Cloud Run service).
  invokers = merge(
    { for k in keys(local.http_functions) : "public/${k}" => { function = k, member = "allUsers" } },
    { for k in keys(local.pubsub_functions) : "push/${k}" => { function = k, member = local.caller_members.push } },
    { for k in keys(local.task_functions) : "tasks/${k}" => { function = k, member = local.caller_members.tasks } },
    { for f in distinct([for c in values(local.crons) : c.function]) : "cron/${f}" => { function = f, member = local.caller_members.cron } },
    { for k in local.workflow_invoked_functions : "workflow/${k}" => { function = k, member = local.caller_members.workflows } },
  )

  # --- storage ---------------------------------------------------------------------------------
  bucket_prefix = "${var.project}-${var.environment}"
  buckets = {
    for b in local.resources.buckets : b.key => merge(b, { name = "${local.bucket_prefix}-${b.key}" })
  }
  bucket_notifications = {
    for n in flatten([
      for b in local.resources.buckets : [
        for note in try(b.notifications, []) : {
          bucket      = b.key
          topic       = note.topic
          event_types = note.events
        }
      ]
    ]) : "${n.bucket}/${n.topic}" => n
  }
  # Extra per-bucket infrastructure metadata that resources.yaml does not (yet) carry.
  # recordings: retention by channel plan (planned). The recordings code, once built, sets each
  # object's customTime to the end of its plan's retention and the lifecycle rule deletes it
  # then; no code writes recordings yet. delete_after_days is the ceiling.
  bucket_extras = {
    recordings = { delete_at_custom_time = true }
  }
  source_bucket_name = "${local.bucket_prefix}-function-sources"

  # --- messaging -------------------------------------------------------------------------------
  topics = { for t in local.resources.topics : t.name => t }
  subscriptions = {
    for s in local.resources.subscriptions : s.name => merge(s, {
      push_function         = try(s.push_function, null)
      filter                = try(s.filter, null)
      dead_letter_topic     = try(local.topics[s.topic].dead_letter, null)
      max_delivery_attempts = try(s.max_delivery_attempts, 5)
    })
  }
  # Topics a dead-letter policy forwards into: the Pub/Sub service agent must publish there.
  dead_letter_topics = toset(compact([for t in local.resources.topics : try(t.dead_letter, null)]))
  # Subscriptions with a dead-letter policy: the Pub/Sub service agent must subscribe there.
  dead_lettering_subscriptions = toset([
    for k, s in local.subscriptions : k if s.dead_letter_topic != null
  ])

  queues = { for q in local.resources.queues : q.name => q }
  crons  = { for c in local.resources.crons : c.name => c }

  secrets = toset(local.resources.secrets)

  # --- per-function access (least privilege) ---------------------------------------------------
  # What each function's service account may touch besides its own Cloud SQL IAM user.
  # Proposed for resources.yaml as a per-function `uses:` block; kept here until then.
  # tests/infra/test_infra_code.py derives the same from the code each function can import
  # (scripts/package.py's walk) and fails on a difference: a secret the code reads but the
  # function does not mount would silently fall back to its local default.
  #   buckets: key => "read" | "write" (write = create/overwrite/delete objects)
  #            | "delete" (delete objects only: local.object_deleter_role)
  #   sign_urls: the function signs V4 URLs with IAM signBlob as itself
  access_defaults = {
    secrets   = []
    buckets   = {}
    topics    = []
    queues    = []
    firestore = false
    sign_urls = false
  }
  function_access_overrides = {
    apidocs = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"]
    }
    auth = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"]
      queues  = ["auth-mail"] # password reset requests; the auth_mail worker sends the mail
    }
    analytics = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"] # a denied request is audited (access.denied)
    }
    certificates = {
      secrets   = ["JWT_KEYS", "CERTIFICATE_SIGNING_KEYS"]
      buckets   = { certificates = "read" } # the holder's signed PDF links
      topics    = ["domain-events"]
      sign_urls = true
    }
    certificate_issuer = {
      topics = ["domain-events"]       # certificate.issued
      queues = ["certificate-renders"] # each issued certificate's PDF
    }
    certificate_renderer = {
      buckets = { certificates = "write" } # the rendered PDFs
      topics  = ["domain-events"]          # shared.channels may audit a denied request
    }
    certificate_mailer = {
      secrets = ["SMTP_PASSWORD"]
    }
    community = {
      secrets = ["JWT_KEYS"] # access tokens; the unsubscribe link's HMAC
      topics  = ["domain-events"]
    }
    community_notifier = {
      topics = ["domain-events"] # notification.created
    }
    community_digest = {
      secrets = ["JWT_KEYS", "SMTP_PASSWORD"] # signs unsubscribe links; sends the digest
      topics  = ["domain-events"]
    }
    auth_mail = {
      secrets = ["SMTP_PASSWORD"]
      topics  = ["domain-events"]
    }
    learning = {
      # MEDIA_CDN_SIGNING_KEYS: playback and downloads are Cloud CDN signed URLs.
      secrets   = ["JWT_KEYS", "MEDIA_CDN_SIGNING_KEYS"]
      buckets   = { media = "read" }
      topics    = ["domain-events"]
      sign_urls = true
    }
    billing = {
      secrets = ["JWT_KEYS", "STRIPE_API_KEY"]
      topics  = ["domain-events"]
    }
    courses = {
      # Zoom: live classes are scheduled under each channel's own connected account (OAuth
      # app credentials; the channels' tokens are sealed under ZOOM_TOKEN_KEYS).
      secrets = ["JWT_KEYS", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "ZOOM_TOKEN_KEYS"]
      topics  = ["domain-events"]
    }
    # A recording: streamed into the recordings bucket, copied server-side into media (whose
    # finalize makes the lesson ready). Zoom secrets: the channel's token when an event has
    # no download token.
    live_recording_ingest = {
      secrets = ["ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "ZOOM_TOKEN_KEYS"]
      buckets = { recordings = "write", media = "write" }
      topics  = ["domain-events"]
      queues  = ["live-recordings", "media-thumbnails"] # finalize queues the thumbnail
      # media's module (its finalize) can sign upload URLs; the worker never does
      sign_urls = true
    }
    live_sweeper = {
      secrets = ["JWT_KEYS", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "ZOOM_TOKEN_KEYS"]
      topics  = ["domain-events"]
    }
    media = {
      secrets   = ["JWT_KEYS"]
      buckets   = { media = "write" }
      topics    = ["domain-events"]
      queues    = ["media-thumbnails"]
      sign_urls = true
    }
    channels = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"]
    }
    pages = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"]
    }
    admin_pages = {
      secrets = ["JWT_KEYS"]      # the session cookie is an access token; CSRF keys derive from it
      topics  = ["domain-events"] # moderation actions and denied requests are events
      queues  = ["auth-mail"]     # identity's login module also queues reset mails (not used here)
    }
    stripe_webhook = {
      secrets = ["JWT_KEYS", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"]
      topics  = ["domain-events"]
    }
    media_finalized = {
      buckets   = { media = "write" } # rejected uploads are deleted
      topics    = ["domain-events"]
      queues    = ["media-thumbnails"]
      sign_urls = true
    }
    media_cleanup = {
      buckets = { media = "delete" } # released objects are deleted, never read or written
    }
    search = {
      secrets = ["JWT_KEYS"]      # signed-in callers see their channels' drafts and enrollments
      topics  = ["domain-events"] # shared.channels may audit a denied request
    }
    search_indexer = {
      topics = ["domain-events"] # reaches shared.channels (search settings), which may audit
    }
    media_thumbnail = {
      buckets   = { media = "write" }
      topics    = ["domain-events"]
      queues    = ["media-thumbnails"]
      sign_urls = true
    }
    outbox_sweeper = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"]
    }
    billing_reconcile = {
      secrets = ["JWT_KEYS", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"]
      topics  = ["domain-events"]
    }
    analytics_maintenance = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events", "analytics-events"] # analytics events to the warehouse
    }
    webhooks = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"]
      queues  = ["webhook-deliveries"] # a replay queues the delivery again
    }
    webhook_fanout = {
      queues = ["webhook-deliveries"] # one task per delivery
    }
    privacy = {
      secrets   = ["JWT_KEYS"]
      topics    = ["domain-events"]
      buckets   = { exports = "read" } # signs download URLs of ready exports
      sign_urls = true
    }
    privacy_worker = {
      secrets   = ["JWT_KEYS", "STRIPE_API_KEY"] # erasure deletes Stripe customers
      topics    = ["domain-events"]
      buckets   = { exports = "write", media = "read" } # parts and ZIPs; the user's uploads
      firestore = true
    }
    retention = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"]
      buckets = { exports = "delete" } # expired exports
    }
    webhook_delivery = {
      secrets = ["SMTP_PASSWORD"] # owners are mailed when an endpoint is disabled
    }
    # Realtime: the token route reads memberships, signs custom tokens with IAM signBlob as
    # itself and writes a grants document for callers whose claims overflow; the projection
    # writes Firestore only.
    realtime = {
      secrets   = ["JWT_KEYS"]
      topics    = ["domain-events"]
      firestore = true
      sign_urls = true
    }
    community_projection = {
      firestore = true
    }
    # Live classes (issue 11): the Zoom webhook verifies with the app's secret token and may
    # queue a recording ingest; attendance is a staff read.
    live_webhook = {
      secrets = ["JWT_KEYS", "ZOOM_WEBHOOK_SECRET_TOKEN"]
      topics  = ["domain-events"]
      queues  = ["live-recordings"] # recording.completed queues the ingest (recording_queue)
    }
    live_attendance = {
      secrets = ["JWT_KEYS"]
      topics  = ["domain-events"]
    }
    calendar = {
      secrets = ["JWT_KEYS"] # the feed tokens are signed with the JWT keys
      topics  = ["domain-events"]
    }
    live_reminders = {
      secrets = ["JWT_KEYS", "SMTP_PASSWORD"]
      topics  = ["domain-events"]
    }
    live_notices = {
      secrets = ["SMTP_PASSWORD"]
    }
  }
  function_access = {
    for k in keys(local.functions) : k => merge(local.access_defaults, try(local.function_access_overrides[k], {}))
  }

  function_secret_grants = {
    for p in flatten([
      for f, a in local.function_access : [for s in a.secrets : { function = f, secret = s }]
    ]) : "${p.function}/${p.secret}" => p
  }
  function_bucket_grants = {
    for p in flatten([
      for f, a in local.function_access : [
        for b, mode in a.buckets : {
          function = f
          bucket   = b
          role = {
            read   = "roles/storage.objectViewer"
            write  = "roles/storage.objectUser"
            delete = local.object_deleter_role
          }[mode]
        }
      ]
    ]) : "${p.function}/${p.bucket}" => p
  }
  # No predefined role deletes objects without also reading and creating them: a custom one.
  object_deleter_role_id = "platformObjectDeleter"
  object_deleter_role    = "projects/${var.project}/roles/${local.object_deleter_role_id}"
  function_topic_grants = {
    for p in flatten([
      for f, a in local.function_access : [for t in a.topics : { function = f, topic = t }]
    ]) : "${p.function}/${p.topic}" => p
  }
  function_queue_grants = {
    for p in flatten([
      for f, a in local.function_access : [for q in a.queues : { function = f, queue = q }]
    ]) : "${p.function}/${p.queue}" => p
  }
  # Enqueuing a task with an OIDC token "acts as" the tasks invoker service account.
  task_enqueuers  = toset([for f, a in local.function_access : f if length(a.queues) > 0])
  firestore_users = toset([for f, a in local.function_access : f if a.firestore])
  url_signers     = toset([for f, a in local.function_access : f if a.sign_urls])

  # --- runtime sizing --------------------------------------------------------------------------
  # `concurrency` requests per instance (gunicorn THREADS), a lazy pool of up to `db_pool`
  # connections per instance (DB_POOL_SIZE; 0 = the function never opens one). Every instance of
  # every function at its maximum must fit in max_connections: local.db_connections_needed is
  # checked by a precondition on the instance and by tests/infra.
  runtime_defaults = {
    memory        = "512Mi"
    cpu           = "1"
    concurrency   = 4
    db_pool       = 4
    max_instances = 5
    min_instances = 0
    timeout       = 60
  }
  runtime_overrides = {
    auth     = { max_instances = 10, min_instances = var.environment == "prod" ? 1 : 0 }
    learning = { max_instances = 20, min_instances = var.environment == "prod" ? 1 : 0 }
    pages    = { concurrency = 8, db_pool = 4 }
    apidocs  = { concurrency = 16, db_pool = 0, max_instances = 2 }
    # Search: one short read per request; the indexer applies one event per transaction.
    search          = { db_pool = 2, max_instances = 4 }
    search_indexer  = { concurrency = 2, db_pool = 1, max_instances = 2 }
    analytics       = { db_pool = 2, max_instances = 2 } # staff dashboards: few readers
    stripe_webhook  = { timeout = 30 }
    media_finalized = { timeout = 120 }
    media_thumbnail = { memory = "1Gi", concurrency = 1, db_pool = 1, max_instances = 10, timeout = 300 }
    # Consumers and workers of a few short statements each: one connection per instance.
    media_cleanup = { concurrency = 2, db_pool = 1, max_instances = 2 }
    auth_mail     = { concurrency = 2, db_pool = 1, max_instances = 2 }
    # Staff pages and privacy requests: few users, short transactions.
    admin_pages    = { db_pool = 2, max_instances = 2 }
    privacy        = { db_pool = 1, max_instances = 2 }
    outbox_sweeper = { concurrency = 1, db_pool = 1, max_instances = 1, timeout = 120 }
    billing_reconcile = {
      memory = "1Gi", concurrency = 1, db_pool = 1, max_instances = 1, timeout = 900
    }
    analytics_maintenance = {
      memory = "1Gi", concurrency = 1, db_pool = 1, max_instances = 1, timeout = 900
    }
    # Webhooks: one connection per instance, as every transaction is a few short statements.
    # A delivery waits on the customer's endpoint (connect + read timeouts, integrations.rules)
    # outside any transaction, so 8 threads share one connection.
    webhooks         = { db_pool = 1, max_instances = 2 }
    webhook_fanout   = { db_pool = 1, max_instances = 2 }
    webhook_delivery = { concurrency = 8, db_pool = 1, max_instances = 4, timeout = 30 }
    # Privacy: a worker step streams a ZIP or scrubs table by table (one transaction each);
    # the retention cron deletes in small batches.
    privacy_worker = { memory = "1Gi", concurrency = 1, db_pool = 1, max_instances = 4, timeout = 1800 }
    retention      = { concurrency = 1, db_pool = 1, max_instances = 1, timeout = 900 }

    # Certificates: lookups by code and one issuance per event, each a short transaction.
    certificates       = { db_pool = 2, max_instances = 4 }
    certificate_issuer = { concurrency = 2, db_pool = 1, max_instances = 2 }
    certificate_mailer = { concurrency = 2, db_pool = 1, max_instances = 2 }
    # PDFs: weasyprint holds the process's one font configuration (one render at a time).
    certificate_renderer = { memory = "1Gi", concurrency = 1, db_pool = 1, max_instances = 4, timeout = 120 }

    # Live classes: a Zoom event is a few short statements (Zoom wants the answer within 3 s);
    # attendance is a staff read.
    live_webhook = { concurrency = 8, db_pool = 2, max_instances = 3, timeout = 10 }
    # A recording streams through one instance in bounded memory (one chunk at a time); the
    # sweeper is a cron of one instance.
    live_recording_ingest = { memory = "1Gi", concurrency = 1, db_pool = 1, max_instances = 4, timeout = 1800 }
    live_sweeper          = { concurrency = 1, db_pool = 1, max_instances = 1, timeout = 300 }
    live_attendance       = { db_pool = 1, max_instances = 2 }
    calendar              = { db_pool = 1, max_instances = 2 }
    live_reminders        = { concurrency = 1, db_pool = 1, max_instances = 1, timeout = 300 }
    live_notices          = { concurrency = 2, db_pool = 1, max_instances = 2 }

    # Community: short transactions; the digest cron runs one instance.
    community          = { db_pool = 2, max_instances = 4 }
    community_notifier = { concurrency = 2, db_pool = 1, max_instances = 2 }
    community_digest   = { concurrency = 1, db_pool = 1, max_instances = 1, timeout = 300 }

    # Realtime: a few short reads per token; the projection never opens a database connection.
    realtime             = { db_pool = 1, max_instances = 2 }
    community_projection = { concurrency = 8, db_pool = 0, max_instances = 4 }
  }
  function_runtime = {
    for k in keys(local.functions) : k => merge(local.runtime_defaults, try(local.runtime_overrides[k], {}))
  }
  db_connections_per_function = {
    for k, r in local.function_runtime : k => r.max_instances * r.db_pool
  }
  # + 1 for the migrate job, + the reserve for ops and Cloud SQL's own agents.
  db_connections_needed = sum(values(local.db_connections_per_function)) + 1 + var.db_reserved_connections

  # --- environment -----------------------------------------------------------------------------
  # After a point-in-time restore the clone becomes the instance (docs/DEPLOY.md).
  sql_instance_name = var.db_instance_name != "" ? var.db_instance_name : "${var.environment}-platform"
  db_name           = "platform"
  public_base_url   = "https://${var.domain}"

  # Settings every function reads (shared/platform/config.py: env var = upper-case field name).
  common_settings_env = merge({
    ENV                = "prod"
    GCP_PROJECT        = var.project
    REGION             = var.region
    PUBLIC_BASE_URL    = local.public_base_url
    CLOUD_SQL_INSTANCE = "${var.project}:${var.region}:${local.sql_instance_name}"
    DB_NAME            = local.db_name
    BUCKET_PREFIX      = local.bucket_prefix
    TASKS_LOCATION     = var.region
    JWT_ACTIVE_KID     = var.jwt_active_kid
    # Cloud Tasks: where each task function lives and whose OIDC token the tasks carry.
    TASK_TARGETS                  = jsonencode({ for k in keys(local.task_functions) : k => local.function_urls[k] })
    TASKS_INVOKER_SERVICE_ACCOUNT = "${local.tasks_invoker_sa}@${var.project}.iam.gserviceaccount.com"
    STRIPE_API_BASE               = "https://api.stripe.com"
    SMTP_HOST                     = var.smtp_host
    SMTP_PORT                     = tostring(var.smtp_port)
    MAIL_FROM                     = var.mail_from
    # The client address is the X-Forwarded-For entry left of the load balancer's own.
    TRUSTED_PROXY_HOPS = tostring(var.trusted_proxy_hops)
    # Media URLs are signed for the Cloud CDN on var.media_domain by the functions that mount
    # MEDIA_CDN_SIGNING_KEYS, with the key of this name (one of the media-cdn backend bucket's).
    MEDIA_CDN_BASE_URL = "https://${var.media_domain}"
    MEDIA_CDN_KEY_NAME = var.media_cdn_key_name
  }, var.smtp_user == "" ? {} : { SMTP_USER = var.smtp_user })

  # --- edge ------------------------------------------------------------------------------------
  # Added by the load balancer to every response of every backend (issue 16 item 12); the
  # functions send the same set themselves (shared/web/api.py SECURITY_HEADERS and HSTS).
  security_response_headers = [
    "Strict-Transport-Security: max-age=31536000; includeSubDomains",
    "X-Content-Type-Options: nosniff",
    "Referrer-Policy: strict-origin-when-cross-origin",
    "X-Frame-Options: DENY",
    "Content-Security-Policy: frame-ancestors 'none'",
  ]
  function_settings_env = {
    for k in keys(local.functions) : k => merge(local.common_settings_env, {
      DB_IAM_USER             = local.function_db_users[k]
      DB_POOL_SIZE            = tostring(max(local.function_runtime[k].db_pool, 1))
      SIGNING_SERVICE_ACCOUNT = local.function_sa_emails[k]
    })
  }
  # Read by the runtime, not by Settings: functions-framework's gunicorn threads, and a value to
  # bump so that every function starts a new revision and re-reads its secrets ("latest").
  function_runtime_env = {
    for k in keys(local.functions) : k => {
      THREADS          = tostring(local.function_runtime[k].concurrency)
      SECRETS_REVISION = var.secrets_revision
    }
  }

  # --- workflows -------------------------------------------------------------------------------
  # Every workflows/*.yaml is deployed. A workflow reaches function FOO through the env var
  # FN_FOO_URL; the workflows service account may invoke exactly the functions some workflow names.
  workflow_files = fileset("${path.module}/../workflows", "*.yaml")
  workflows = {
    for f in local.workflow_files : replace(trimsuffix(f, ".yaml"), "_", "-") => {
      file = f
      calls = distinct([
        for m in regexall("FN_([A-Z0-9_]+)_URL", file("${path.module}/../workflows/${f}")) : lower(m[0])
      ])
    }
  }
  workflow_invoked_functions = toset(flatten([for w in values(local.workflows) : w.calls]))
}
