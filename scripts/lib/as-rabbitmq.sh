# shellcheck shell=bash
# Sourced by scripts/rabbitmq-cluster.sh and test/cluster/repro/qq-fd-limit.sh. Expects RMQ_USER
# (the user the nodes run as) and RMQ_HOME (its home, holding the Erlang cookie).

# Runs a command as the rabbitmq user, with its home (Erlang cookie) and loopback-only Erlang
# distribution, like /etc/rabbitmq/rabbitmq-env.conf does for the service.
as_rabbitmq() {
  local env=(HOME="$RMQ_HOME" LANG=C.UTF-8 LC_ALL=C.UTF-8 PATH="$PATH" ERL_EPMD_ADDRESS=127.0.0.1)
  if [[ $(id -u) == 0 ]]; then
    setpriv --reuid="$RMQ_USER" --regid="$RMQ_USER" --init-groups env -i "${env[@]}" "$@"
  else
    env -i "${env[@]}" "$@"
  fi
}
