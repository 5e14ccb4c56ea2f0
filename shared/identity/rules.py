"""Password rules (OWASP ASVS 5.0 V6): length 10..128, byte cap before hashing, no common ones."""

from __future__ import annotations

MIN_LENGTH = 10
MAX_LENGTH = 128
MAX_BYTES = 1024  # refused before hashing: argon2 on megabytes is a denial of service

# Frequent passwords of 10+ characters from public breach corpora (the short ones fail length).
COMMON = frozenset(
    """
1234567890 0123456789 12345678910 1234567891 1111111111 0000000000 123456789a 123456789q
qwertyuiop qwertyuiop1 1q2w3e4r5t 1qaz2wsx3edc password12 password123 password1234
passw0rd123 iloveyou12 abcdefghij abc1234567 qwerty1234 qwerty12345 asdfghjkl1 zxcvbnm123
1234qwerty a1b2c3d4e5 princess12 football12 baseball12 sunshine12 superman12 letmein123
welcome123 trustno1234 michael123 starwars12 dragon1234 monkey1234 computer12 internet12
administrator changeme123 q1w2e3r4t5 987654321a 9876543210 qazwsxedc123 aaaaaaaaaa
""".split()
)


def problems(password: str) -> list[str]:
    """Reasons the password is refused; empty when it is acceptable."""
    if len(password.encode()) > MAX_BYTES:
        return [f"must be at most {MAX_BYTES} bytes"]
    found = []
    if len(password) < MIN_LENGTH:
        found.append(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"must be at most {MAX_LENGTH} characters")
    if password.lower() in COMMON or len(set(password)) < 3:
        found.append("is too common; choose a less guessable password")
    return found
