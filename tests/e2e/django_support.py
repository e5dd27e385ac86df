"""Password hashes made by Django's own hashers (the code authentik stores
its passwords with), for the import tests.

Run as a script to print fresh vectors for the Rust unit tests
(`crates/crypto/src/django_tests.rs`):

    .venv/bin/python tests/e2e/django_support.py
"""

import django
from django.conf import settings

# Every hasher authentik's Django can have written; the first is Django's default.
HASHERS = {
    "pbkdf2_sha256": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "pbkdf2_sha1": "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "argon2": "django.contrib.auth.hashers.Argon2PasswordHasher",
    "bcrypt_sha256": "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "bcrypt": "django.contrib.auth.hashers.BCryptPasswordHasher",
    "scrypt": "django.contrib.auth.hashers.ScryptPasswordHasher",
}

if not settings.configured:
    settings.configure(PASSWORD_HASHERS=list(HASHERS.values()), USE_TZ=True)
    django.setup()

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402


def make(algorithm: str, password: str) -> str:
    """`password` hashed by Django's hasher for `algorithm`, with its default costs."""
    encoded = make_password(password, hasher=algorithm)
    assert encoded.startswith(algorithm + "$"), encoded
    assert check_password(password, encoded)
    return encoded


if __name__ == "__main__":
    print(f"// Made by Django {django.get_version()} (tests/e2e/django_support.py).")
    for i, alg in enumerate(HASHERS):
        password = f"Imported-Pass-{i}-é"
        print(f'("{alg}", "{password}", "{make(alg, password)}"),')
