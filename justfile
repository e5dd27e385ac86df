# The stack's identity-provider recipes, served by Gatehouse.
# Recipe names are those of the authentik deployment Gatehouse replaces, so
# runbooks and muscle memory keep working.
#
#   just authentik-users                       list users
#   just authentik-user-create alice alice@example.com "Alice"
#   just authentik-user-password alice         set / reset a password (prompts)
#   just authentik-group-add admins alice      'admins' is the superuser group
#   just authentik-ldap-test alice             what an LDAP service sees as alice
#
# GATEHOUSE_BIN: the binary to call (default: gatehouse on PATH).
# GATEHOUSE_DEPLOY: how the server runs, for -status/-logs/-restart:
#   systemd (default; unit `gatehouse`, see deploy/gatehouse.service) or
#   container (container named by GATEHOUSE_CONTAINER, default `gatehouse`).

gatehouse := env_var_or_default("GATEHOUSE_BIN", "gatehouse")
deploy := env_var_or_default("GATEHOUSE_DEPLOY", "systemd")
container := env_var_or_default("GATEHOUSE_CONTAINER", "gatehouse")
engine := env_var_or_default("CONTAINER_ENGINE", "docker")

# List recipes
default:
    @just --list

# List users
authentik-users:
    {{gatehouse}} user list

# Create a user: just authentik-user-create USERNAME EMAIL [NAME]
authentik-user-create USERNAME EMAIL NAME="":
    {{gatehouse}} user create {{quote(USERNAME)}} {{quote(EMAIL)}} {{quote(NAME)}}

# Set or reset a password (prompts twice; pass --generate or --link via FLAGS)
authentik-user-password USERNAME *FLAGS:
    {{gatehouse}} user password {{quote(USERNAME)}} {{FLAGS}}

# Delete a user
authentik-user-delete USERNAME:
    {{gatehouse}} user delete {{quote(USERNAME)}}

# List groups
authentik-groups:
    {{gatehouse}} group list

# Create a group: just authentik-group-create NAME [--admin]
authentik-group-create NAME *FLAGS:
    {{gatehouse}} group create {{quote(NAME)}} {{FLAGS}}

# Add a user to a group
authentik-group-add GROUP USERNAME:
    {{gatehouse}} group add {{quote(GROUP)}} {{quote(USERNAME)}}

# Show a group's members (direct and inherited)
authentik-group-members GROUP:
    {{gatehouse}} group members {{quote(GROUP)}}

# List applications
authentik-apps:
    {{gatehouse}} app list

# User x application access matrix (compliance reviews)
authentik-access *FLAGS:
    {{gatehouse}} access {{FLAGS}}

# Bind to the running LDAP server as USERNAME (password prompted, ;CODE for MFA); show what a service sees
authentik-ldap-test USERNAME FILTER="" *FLAGS:
    {{gatehouse}} ldap test {{quote(USERNAME)}} {{ if FILTER == "" { "" } else { quote(FILTER) } }} {{FLAGS}}

# Database, schema, server, worker and backup health, with the last backup's age (exit 1 when unhealthy)
authentik-status:
    {{gatehouse}} status

# Back up everything now (GATEHOUSE_BACKUP__DIR; FLAGS e.g. -o FILE, --passphrase-file F)
authentik-backup *FLAGS:
    {{gatehouse}} backup {{FLAGS}}

# Restore a backup into an empty database (FLAGS e.g. --check, --force, --passphrase-file F)
authentik-restore FILE *FLAGS:
    {{gatehouse}} restore {{quote(FILE)}} {{FLAGS}}

# Follow the server's log
authentik-logs:
    #!/usr/bin/env sh
    case "{{deploy}}" in
      systemd) exec journalctl -u gatehouse -f -o cat ;;
      container) exec {{engine}} logs -f {{quote(container)}} ;;
      *) echo "GATEHOUSE_DEPLOY must be systemd or container" >&2; exit 2 ;;
    esac

# Restart the server (graceful: SIGTERM, then start) and wait until it is ready
authentik-restart:
    #!/usr/bin/env sh
    set -e
    case "{{deploy}}" in
      systemd) systemctl restart gatehouse ;;
      container) {{engine}} restart {{quote(container)}} ;;
      *) echo "GATEHOUSE_DEPLOY must be systemd or container" >&2; exit 2 ;;
    esac
    for i in $(seq 1 50); do {{gatehouse}} status >/dev/null 2>&1 && exit 0; sleep 0.2; done
    echo "gatehouse did not become ready within 10 s; see: just authentik-logs" >&2
    exit 1

# SSO drift across the stack (GATEHOUSE_STACK_FILE): one row per service; exit 1 on drift
sso-check *FLAGS:
    {{gatehouse}} sso check {{FLAGS}}

# Repair one service's SSO drift (pass --dry-run to only show what would change)
sso-fix SVC *FLAGS:
    {{gatehouse}} sso fix {{quote(SVC)}} {{FLAGS}}

# Repair every service's SSO drift
sso-fix-all *FLAGS:
    {{gatehouse}} sso fix --all {{FLAGS}}

# Apply blueprints (files or directories): everything or nothing
blueprint-apply +PATHS:
    {{gatehouse}} blueprint apply {{PATHS}}
