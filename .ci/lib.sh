# Shared by the .ci scripts (`source .ci/lib.sh`), which run from the repository root.

# The port for a throwaway server: $1, its usual port, unless something already listens
# there (say, a server Debian's package started), then any free port.
usual_or_free_port() {
  if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo "$1"
  fi
}

# Install Debian packages quietly: $1 names them for the log, the rest are the packages.
apt_install() {
  echo "installing Debian's $1"
  shift
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
