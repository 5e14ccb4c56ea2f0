# Private network: Cloud SQL has only a private IP, reached from the functions through a
# Serverless VPC Access connector (egress to private ranges only; Google APIs stay direct).

resource "google_compute_network" "vpc" {
  name                    = "platform"
  auto_create_subnetworks = false
  depends_on              = [google_project_service.api]
}

# Nothing in this network accepts traffic from outside it: deny all ingress (the connector's own
# health-check rules, created by Google at higher priority, still apply), and log what is denied.
resource "google_compute_firewall" "deny_ingress" {
  name      = "deny-all-ingress"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }
  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "serverless" {
  name                     = "serverless-${var.region}"
  network                  = google_compute_network.vpc.id
  region                   = var.region
  ip_cidr_range            = "10.8.0.0/28"
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_vpc_access_connector" "serverless" {
  name          = "serverless"
  region        = var.region
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = 10

  subnet {
    name = google_compute_subnetwork.serverless.name
  }
}

# Private services access: the range Cloud SQL's private IP comes from.
resource "google_compute_global_address" "private_services" {
  name          = "private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 16
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}
