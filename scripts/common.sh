# Shared helpers for the project's scripts (sourced, not run).

# Makes sure cargo is on PATH, installing Rust with rustup when it is missing.
ensure_rust() {
    if command -v cargo >/dev/null 2>&1; then return; fi
    if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; return; fi
    echo "==> Rust is not installed; installing it with rustup (https://rustup.rs)"
    if command -v curl >/dev/null 2>&1; then
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "error: neither cargo nor curl is available. Install Rust from https://rustup.rs and run this again." >&2
        exit 1
    fi
    if ! command -v cc >/dev/null 2>&1; then
        echo "==> installing a C compiler (needed by some crates)"
        as_root apt-get install -y build-essential || true
    fi
}

# Runs a command as root (directly, or through sudo when available).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi
}
