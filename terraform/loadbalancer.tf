# Global external Application Load Balancer (EXTERNAL_MANAGED: needed for path_template_match):
#   var.domain       -> route rules from resources.yaml route templates, in list order, to one
#                       serverless NEG + backend service (Cloud Armor) per public HTTP function
#   var.media_domain -> Cloud CDN backend bucket on the media bucket: playback and downloads
#                       are Cloud CDN signed URLs of this host (see storage.tf)
# HTTP on port 80 only redirects to HTTPS.

resource "google_compute_global_address" "lb" {
  name       = "platform-lb"
  depends_on = [google_project_service.api]
}

resource "google_compute_managed_ssl_certificate" "lb" {
  name = "platform-${var.environment}"
  managed {
    domains = [var.domain, var.media_domain]
  }
}

resource "google_compute_region_network_endpoint_group" "function" {
  for_each = local.http_functions

  name                  = "neg-${local.function_service_names[each.key]}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"
  cloud_run {
    # service_config.service is "projects/P/locations/R/services/NAME"; the NEG wants NAME
    service = reverse(split("/", google_cloudfunctions2_function.function[each.key].service_config[0].service))[0]
  }
}

resource "google_compute_backend_service" "function" {
  for_each = local.http_functions

  name                  = "be-${local.function_service_names[each.key]}"
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  security_policy       = google_compute_security_policy.edge.id
  # HSTS and the other security headers on every response, whatever the function sent
  custom_response_headers = local.security_response_headers

  backend {
    group = google_compute_region_network_endpoint_group.function[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "lb" {
  name = "platform"
  # Unmatched hosts and paths: the API docs function answers them (404 problem+json).
  default_service = google_compute_backend_service.function["apidocs"].id

  host_rule {
    hosts        = [var.domain]
    path_matcher = "api"
  }

  host_rule {
    hosts        = [var.media_domain]
    path_matcher = "media"
  }

  path_matcher {
    name            = "api"
    default_service = google_compute_backend_service.function["apidocs"].id

    dynamic "route_rules" {
      for_each = local.routes
      content {
        priority = route_rules.value.priority
        service  = google_compute_backend_service.function[route_rules.value.function].id
        match_rules {
          path_template_match = route_rules.value.template
        }
      }
    }
  }

  path_matcher {
    name            = "media"
    default_service = google_compute_backend_bucket.media_cdn.id
  }
}

resource "google_compute_target_https_proxy" "lb" {
  name             = "platform-https"
  url_map          = google_compute_url_map.lb.id
  ssl_certificates = [google_compute_managed_ssl_certificate.lb.id]
  ssl_policy       = google_compute_ssl_policy.modern.id
}

resource "google_compute_ssl_policy" "modern" {
  name            = "platform-modern-tls"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_global_forwarding_rule" "https" {
  name                  = "platform-https"
  target                = google_compute_target_https_proxy.lb.id
  ip_address            = google_compute_global_address.lb.id
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}

resource "google_compute_url_map" "redirect" {
  name = "platform-http-redirect"
  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  name    = "platform-http-redirect"
  url_map = google_compute_url_map.redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  name                  = "platform-http"
  target                = google_compute_target_http_proxy.redirect.id
  ip_address            = google_compute_global_address.lb.id
  port_range            = "80"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}

# --- Cloud Armor ---------------------------------------------------------------------------------
# Per client IP: a stricter budget on /v1/auth/* (credential stuffing) and a general one on the
# rest; over budget answers 429. The functions keep their own per-account limits.

resource "google_compute_security_policy" "edge" {
  name        = "platform-edge"
  description = "Rate limits per client IP in front of the public functions"
  type        = "CLOUD_ARMOR"

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 100
    description = "Log4Shell probes (CVE-2021-44228); cheap to refuse at the edge"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  # Provider webhooks get their own budget, far above a client's (Stripe and Zoom deliver
  # bursts from a few IPs) but finite: unsigned garbage from one address is refused here
  # before it costs a function instance (issue 16 item 1).
  rule {
    action      = "throttle"
    priority    = 900
    description = "Provider webhooks: signed, bursty, from few provider IPs; own per-IP budget"
    match {
      expr {
        expression = "request.path.startsWith('/v1/webhooks/')"
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = 3000
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "throttle"
    priority    = 1000
    description = "Auth endpoints: per-IP budget"
    match {
      expr {
        expression = "request.path.startsWith('/v1/auth/')"
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.auth_rate_limit_per_ip_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "throttle"
    priority    = 2000
    description = "Everything else: per-IP budget"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.rate_limit_per_ip_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Default: allow"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}
