# vrf-host's hook memo, in POSIX sh (dash on Ubuntu): the one definition of what a record is.
#
# A full update-status that changed nothing is recorded: what the engine read of the host (its
# `ip -json` reads and its files), each reduced here to one comparable value. The next
# update-status is answered by dispatch itself, without starting Node: it sources this file and the
# record, reads the host the same way and compares value by value. Equal: the hook is done (its
# status is already set, Juju keeps it). Different, absent, another build or hook, another boot,
# or older than the record's age: a miss, and the charm runs in full (DEVELOPERS.md, "The hook
# memo").
#
# Two modes, one set of probes (vrf_memo_ip, _file, _sysctl, _kind, _exists, _link, _names), so that the
# rule exists once:
#   check   (dispatch: vrf_memo_hit) each probe looks at the host now;
#   record  (the charm, after its full run: sh memo.sh --record HOOK AGE_S PLAN DATA...) each probe
#           takes the raw facts the engine itself read (its ip outputs, its file contents) from
#           DATA, and prints its value as a line of the record. The charm writes the record
#           atomically.
# PLAN is sh the charm generated from the reads its engine made (src/charm/recording.ts): one probe
# call per read, in order. A hit starts no process but the recorded `ip` reads (one fork each, which
# execs ip) and writes nothing.
#
# A record (sourced by dispatch; written only by the charm, root-only):
#   vrf_memo_rec_version=... _build=... _hook=... _boot=... _up=... _age=...
#   vrf_memo_plan() { ...probes... }
#   vrf_memo_want_1='...'  ... vrf_memo_want_N='...'
#   vrf_memo_rec_items=N
#   vrf_memo_rec_complete=1

vrf_memo_version=1
vrf_memo_nl='
'
# Between the environment and ip's output in a read's value.
vrf_memo_cut=vrf-host-memo-cut-7d3f

# The record's path for this unit: ROOT/var/lib/vrf-host/memo/<app>-<n>.sh, in vrf_memo_path; false
# when the environment names no unit or VRF_HOST_ROOT is not absolute (the full run then says why).
vrf_memo_locate() {
  vrf_memo_path=
  _m_app=${JUJU_UNIT_NAME%/*} _m_num=${JUJU_UNIT_NAME##*/}
  case ${JUJU_UNIT_NAME-} in */*/* | /* | */) return 1 ;; */*) ;; *) return 1 ;; esac
  case $_m_app in [!a-z]* | *[!a-z0-9-]* | *- | *--*) return 1 ;; esac
  case $_m_num in '' | *[!0-9]*) return 1 ;; esac
  _m_root=${VRF_HOST_ROOT:-/}
  case $_m_root in /*) ;; *) return 1 ;; esac
  vrf_memo_path=${_m_root%/}/var/lib/vrf-host/memo/$_m_app-$_m_num.sh
}

# `ip -json` output ($1) without the values that change by themselves, in vrf_memo_s: bridge and
# bridge-port timers (*_timer), address lifetimes, route expiry, neighbour ages. The value after
# such a key (up to the next , ] or }) is dropped. Pure sh: split on ':'; a key is the only place an
# unescaped `"NAME"` can end right before a ':' (inside a JSON string a quote is escaped). Built in
# chunks of 64 fields: appending to one growing string is quadratic in dash.
vrf_memo_stable() {
  _s_ifs=$IFS
  IFS=:
  set -f
  # shellcheck disable=SC2086
  set -- $1
  IFS=$_s_ifs
  set +f
  vrf_memo_s= _s_chunk= _s_blank= _s_n=0 _s_sep=
  for _s_f do
    if [ -n "$_s_blank" ]; then
      _s_v=${_s_f%%[],\}]*}
      _s_f=${_s_f#"$_s_v"}
      _s_blank=
    fi
    case $_s_f in
      *_timer\" | *\"valid_life_time\" | *\"preferred_life_time\" | *\"expires\" | *\"age\" | *\"used\" | *\"lastused\" | *\"updated\") _s_blank=1 ;;
    esac
    _s_chunk=$_s_chunk$_s_sep$_s_f
    _s_sep=:
    _s_n=$((_s_n + 1))
    if [ "$_s_n" -ge 64 ]; then
      vrf_memo_s=$vrf_memo_s$_s_chunk
      _s_chunk= _s_n=0
    fi
  done
  vrf_memo_s=$vrf_memo_s$_s_chunk
}

# The environment the charm would run in, without what changes with every dispatch or is dispatch's
# own (JUJU_CONTEXT_ID, ..., VRF_HOST_MEMO_*): printed. Only ever run in a subshell.
vrf_memo_env() {
  unset JUJU_CONTEXT_ID JUJU_HOOK_NAME JUJU_DISPATCH_PATH PWD OLDPWD SHLVL _ \
    VRF_HOST_DISPATCH_NODE VRF_HOST_MEMO_PATH VRF_HOST_MEMO_MISSED 2>/dev/null
  export -p
}

# $1 with every trailing newline removed (what $(...) does to a process's output), in vrf_memo_s.
vrf_memo_chomp() {
  vrf_memo_s=$1
  while :; do
    case $vrf_memo_s in
      *"$vrf_memo_nl") vrf_memo_s=${vrf_memo_s%"$vrf_memo_nl"} ;;
      *) return 0 ;;
    esac
  done
}

# $1 as one single-quoted sh word, in vrf_memo_q.
vrf_memo_quote() {
  _q_rest=$1 vrf_memo_q=
  while :; do
    case $_q_rest in
      *\'*)
        vrf_memo_q=$vrf_memo_q${_q_rest%%\'*}\'\\\'\'
        _q_rest=${_q_rest#*\'}
        ;;
      *)
        vrf_memo_q=\'$vrf_memo_q$_q_rest\'
        return 0
        ;;
    esac
  done
}

# What a path is, in vrf_memo_c: dir, file (non-empty), empty, other, absent (symlinks followed).
vrf_memo_class() {
  if [ -d "$1" ]; then
    vrf_memo_c=dir
  elif [ -f "$1" ]; then
    if [ -s "$1" ]; then vrf_memo_c=file; else vrf_memo_c=empty; fi
  elif [ -e "$1" ]; then
    vrf_memo_c=other
  else
    vrf_memo_c=absent
  fi
}

# Record mode: the next DATA word, in vrf_memo_t; $1 names what the probe expects (a tag in DATA
# keeps the plan and the data in step: anything else fails the record).
vrf_memo_take() {
  _t_k=$((_t_k + 1))
  eval "vrf_memo_t=\${vrf_memo_d_$_t_k-}"
  if [ "$_t_k" -gt "$_t_n" ]; then
    printf 'vrf-host memo: the data ends before the plan (%s)\n' "$1" >&2
    exit 1
  fi
}
vrf_memo_tag() {
  vrf_memo_take "$1"
  if [ "$vrf_memo_t" != "$1" ]; then
    printf 'vrf-host memo: the plan has %s where the data has %s\n' "$1" "$vrf_memo_t" >&2
    exit 1
  fi
}

# One value: printed as the record's next want (record), or compared with it (check).
vrf_memo_item() {
  _m_i=$((_m_i + 1))
  if [ "$vrf_memo_mode" = record ]; then
    vrf_memo_quote "$2"
    printf 'vrf_memo_want_%s=%s\n' "$_m_i" "$vrf_memo_q"
    return 0
  fi
  eval "[ \"\$2\" = \"\${vrf_memo_want_$_m_i-}\" ]" && return 0
  vrf_memo_why="$1 changed"
  return 1
}

# An ip read: vrf_memo_ip NAME=VALUE... -- IP ARGS... (stdin: its batch input). Its value: the exit
# status, the environment (it is an input of the charm's too) and the output without its volatile
# values. One fork, which execs ip; its stderr joins its output (a recorded read had none).
vrf_memo_ip() {
  _m_desc="ip read $((_m_i + 1))"
  if [ "$vrf_memo_mode" = record ]; then
    _m_o=$(
      vrf_memo_env
      printf '%s\n' "$vrf_memo_cut"
    )
    _m_env=${_m_o%%"$vrf_memo_cut"*}
    vrf_memo_tag ip
    vrf_memo_take rc
    _m_rc=$vrf_memo_t
    vrf_memo_take chunks
    _m_c=$vrf_memo_t _m_out=
    while [ "$_m_c" -gt 0 ]; do
      vrf_memo_take chunk
      _m_out=$_m_out$vrf_memo_t
      _m_c=$((_m_c - 1))
    done
    vrf_memo_chomp "$_m_out"
    _m_out=$vrf_memo_s
  else
    _m_o=$(
      vrf_memo_env
      printf '%s\n' "$vrf_memo_cut"
      while [ "$1" != -- ]; do
        export "$1"
        shift
      done
      shift
      exec "$@" 2>&1
    )
    _m_rc=$?
    _m_env=${_m_o%%"$vrf_memo_cut"*}
    case $_m_o in
      *"$vrf_memo_cut$vrf_memo_nl"*) _m_out=${_m_o#*"$vrf_memo_cut$vrf_memo_nl"} ;;
      *) _m_out= ;;
    esac
  fi
  vrf_memo_stable "$_m_out"
  vrf_memo_item "$_m_desc" "exit $_m_rc$vrf_memo_nl$_m_env$vrf_memo_s"
}

# A small file, by content (dash's read: one read(2) per byte, so only small ones), without its NUL
# bytes: dash's read drops them, and the charm hands the content over without them (an argument
# cannot carry one).
vrf_memo_file() {
  if [ "$vrf_memo_mode" = record ]; then
    vrf_memo_tag file
    vrf_memo_take class
    _m_c=$vrf_memo_t
    vrf_memo_take content
    _m_v=$vrf_memo_t
  elif [ -f "$1" ]; then
    _m_c=file _m_v= _m_l=
    while IFS= read -r _m_l; do _m_v=$_m_v$_m_l$vrf_memo_nl; done <"$1"
    _m_v=$_m_v$_m_l
  else
    vrf_memo_class "$1"
    _m_c=$vrf_memo_c _m_v=
  fi
  vrf_memo_item "$1" "$_m_c:$_m_v"
}

# A sysctl (a file under /proc/sys), by its first character. The kernel answers a read at any
# offset but 0 with end-of-file for an integer sysctl, so dash's read, one byte per read(2), sees
# only that character; the charm's record takes the same one from what its engine read. Every
# sysctl the engine reads is 0/1 or a tri-state by sign (keep_addr_on_down), all told apart by
# their first character; a change that keeps it (1 -> 10) waits for the next full run.
vrf_memo_sysctl() {
  if [ "$vrf_memo_mode" = record ]; then
    vrf_memo_tag sysctl
    vrf_memo_take class
    _m_c=$vrf_memo_t
    vrf_memo_take content
    _m_v=$vrf_memo_t
  elif [ -f "$1" ]; then
    _m_c=file _m_v=
    IFS= read -r _m_v <"$1" || :
  else
    vrf_memo_class "$1"
    _m_c=$vrf_memo_c _m_v=
  fi
  vrf_memo_item "$1" "$_m_c:${_m_v%"${_m_v#?}"}"
}

# A path by what it is (vrf_memo_class): a stat, and the large files (their content is compared by
# every full run, DEVELOPERS.md).
vrf_memo_kind() {
  if [ "$vrf_memo_mode" = record ]; then
    vrf_memo_tag kind
    vrf_memo_take class
    vrf_memo_c=$vrf_memo_t
  else
    vrf_memo_class "$1"
  fi
  vrf_memo_item "$1" "$vrf_memo_c"
}

# Whether a path exists (symlinks followed).
vrf_memo_exists() {
  if [ "$vrf_memo_mode" = record ]; then
    vrf_memo_tag exists
    vrf_memo_take yes-no
    _m_v=$vrf_memo_t
  elif [ -e "$1" ]; then
    _m_v=yes
  else
    _m_v=no
  fi
  vrf_memo_item "$1" "$_m_v"
}

# A symlink read with readlink: vrf_memo_link LINK TARGET (TARGET resolved from the link's directory).
# Still the link the engine read when it is a symlink to the same file as TARGET, or, while TARGET
# does not exist, a symlink that leads nowhere either (a unit file's wants link under a test root).
vrf_memo_link() {
  if [ "$vrf_memo_mode" = record ]; then
    vrf_memo_tag link
    vrf_memo_take state
    _m_v=$vrf_memo_t
  elif [ -L "$1" ]; then
    if [ "$1" -ef "$2" ] || { [ ! -e "$1" ] && [ ! -e "$2" ]; }; then _m_v=link; else _m_v=elsewhere; fi
  else
    vrf_memo_class "$1"
    _m_v=$vrf_memo_c
  fi
  vrf_memo_item "$1" "$_m_v"
}

# A directory listing: vrf_memo_names DIR NAME... (the names the engine saw): what DIR is, how many
# entries it has, and whether each name is still there.
vrf_memo_names() {
  _m_d=$1
  shift
  if [ "$vrf_memo_mode" = record ]; then
    vrf_memo_tag names
    vrf_memo_take class
    _m_c=$vrf_memo_t _m_v=" $#"
    for _m_e do _m_v=$_m_v+; done
  else
    vrf_memo_class "$_m_d"
    _m_c=$vrf_memo_c _m_k=0
    for _m_e in "$_m_d"/* "$_m_d"/.*; do
      case ${_m_e##*/} in . | ..) continue ;; esac
      if [ -e "$_m_e" ] || [ -L "$_m_e" ]; then _m_k=$((_m_k + 1)); fi
    done
    _m_v=" $_m_k"
    for _m_e do
      if [ -e "$_m_d/$_m_e" ] || [ -L "$_m_d/$_m_e" ]; then _m_v=$_m_v+; else _m_v=$_m_v-; fi
    done
  fi
  vrf_memo_item "$_m_d/" "$_m_c$_m_v"
}

# dispatch: whether the record at $1 answers hook $2 (0: the hook is done), else why not in
# vrf_memo_why. Reads /proc and the host; starts only the recorded ip reads; writes nothing.
vrf_memo_hit() {
  vrf_memo_mode=check _m_i=0 vrf_memo_why=
  if [ ! -f "$1" ]; then
    vrf_memo_why='no record'
    return 1
  fi
  vrf_memo_rec_complete= vrf_memo_rec_version=
  # `command`: a record that does not parse is a miss, not the end of dispatch.
  if ! command . "$1" || [ "$vrf_memo_rec_complete" != 1 ]; then
    vrf_memo_why='the record is incomplete'
    return 1
  fi
  if [ "$vrf_memo_rec_version" != "$vrf_memo_version" ]; then
    vrf_memo_why='the record has another version'
  elif [ "$vrf_memo_rec_build" != "${vrf_memo_build-dev}" ]; then
    vrf_memo_why='the charm changed'
  elif [ "$vrf_memo_rec_hook" != "$2" ]; then
    vrf_memo_why="the record is for $vrf_memo_rec_hook"
  else
    read -r _m_boot </proc/sys/kernel/random/boot_id
    read -r _m_up _ </proc/uptime
    _m_up=${_m_up%%.*}
    if [ "$_m_boot" != "$vrf_memo_rec_boot" ]; then
      vrf_memo_why='the machine booted since'
    elif [ "$_m_up" -lt "$vrf_memo_rec_up" ] || [ $((_m_up - vrf_memo_rec_up)) -gt "$vrf_memo_rec_age" ]; then
      vrf_memo_why="the record is older than $((vrf_memo_rec_age / 60)) min"
    fi
  fi
  [ -z "$vrf_memo_why" ] || return 1
  vrf_memo_plan || return 1
  if [ "$_m_i" != "$vrf_memo_rec_items" ]; then
    vrf_memo_why='the record has another number of values'
    return 1
  fi
  return 0
}

# The charm: prints the record of hook $1, kept for $2 seconds, whose reads are the plan $3 and the
# facts $4... (see vrf_memo_ip and the other probes for what each one takes).
vrf_memo_record() {
  vrf_memo_mode=record _m_i=0 _t_k=0 _t_n=0
  _r_hook=$1 _r_age=$2 _r_plan=$3
  shift 3
  for _r_d do
    _t_n=$((_t_n + 1))
    eval "vrf_memo_d_$_t_n=\$_r_d"
  done
  eval "$_r_plan" || exit 1
  read -r _m_boot </proc/sys/kernel/random/boot_id
  read -r _m_up _ </proc/uptime
  vrf_memo_quote "$_r_hook"
  printf 'vrf_memo_rec_version=%s\nvrf_memo_rec_build=%s\nvrf_memo_rec_hook=%s\n' \
    "$vrf_memo_version" "'${vrf_memo_build-dev}'" "$vrf_memo_q"
  printf 'vrf_memo_rec_boot=%s\nvrf_memo_rec_up=%s\nvrf_memo_rec_age=%s\n' "'$_m_boot'" "${_m_up%%.*}" "$((_r_age))"
  printf '%s\n' "$_r_plan"
  vrf_memo_plan || exit 1
  if [ "$_t_k" != "$_t_n" ]; then
    printf 'vrf-host memo: %s data word(s) left over: the plan and the data disagree\n' "$((_t_n - _t_k))" >&2
    exit 1
  fi
  printf 'vrf_memo_rec_items=%s\nvrf_memo_rec_complete=1\n' "$_m_i"
}

case $0 in
  */memo.sh | memo.sh)
    if [ "${1-}" = --record ]; then
      shift
      vrf_memo_record "$@"
    fi
    ;;
esac
