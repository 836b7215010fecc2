# bash completion for capsemctl(1).
#
# Installed as bash-completion/completions/capsemctl (loaded on demand), or
# sourced by hand: `. cli/capsemctl.bash`.  Uses only bash builtins
# (compgen, compopt): it does not need the bash-completion package.
#
# What is completed: the subcommands and the global options; each
# subcommand's options and words (agents, ca/policy/image verbs); file names
# after --kernel, --initrd, --disk and `policy lint`; image names
# (${CAPSEM_HOME:-~/.capsem}/images/*) and directories after --image;
# directories after -w/--workspace (a typed ":ro" suffix is kept); image
# names after `image build`; running session ids (`capsemctl list -q`)
# after attach, status, stop, reload, logs and usage.  Options are offered for a
# word that starts with "-" (doctor, whose agent is optional, also offers
# --json on an empty word; so does a subcommand that takes no operand).

_capsemctl_agents="claude gemini codex"
_capsemctl_commands="start proxy list status attach stop reload logs usage ca
policy image doctor version help"

# _capsemctl_add WORD...: into COMPREPLY, each WORD after $vpre (the
# "--opt=" or "-X" typed in the same word, if any) when that starts with
# the word being completed, $cur.
_capsemctl_add()
{
	local w
	for w in "$@"; do
		[[ $vpre$w == "$cur"* ]] && COMPREPLY+=("$vpre$w")
	done
	return 0
}

# _capsemctl_files -f|-d: file (or directory) names that start with the
# option value $val, each after $vpre.
_capsemctl_files()
{
	local f v=$val
	# The word as typed: drop an opening quote and backslash escapes.
	v=${v#[\'\"]}
	v=${v//\\/}
	compopt -o filenames 2>/dev/null
	while IFS= read -r f; do
		COMPREPLY+=("$vpre$f")
	done < <(compgen "$1" -- "$v")
	return 0
}

# The image names: directories of ${CAPSEM_HOME:-$HOME/.capsem}/images
# except those being built (*.tmp.*) or replaced (*.old).
_capsemctl_images()
{
	local root=${CAPSEM_HOME:-${HOME-}/.capsem}/images d n
	[[ -d $root ]] || return 0
	while IFS= read -r d; do
		n=${d##*/}
		case $n in
		*.tmp.* | *.old | .* | "") continue ;;
		esac
		[[ $n =~ ^[A-Za-z0-9._-]+$ ]] || continue
		_capsemctl_add "$n"
	done < <(compgen -d -- "$root/")
	return 0
}

# The running sessions: `capsemctl list -q` prints one id a line.  An
# older capsemctl without -q fails quietly and nothing is offered.
_capsemctl_ids()
{
	local cmd=capsemctl id
	# The capsemctl being completed, when it was given as a path.
	[[ ${words[0]} == */* && -x ${words[0]} ]] && cmd=${words[0]}
	while IFS= read -r id; do
		[[ $id =~ ^[A-Za-z0-9._-]+$ ]] && _capsemctl_add "$id"
	done < <(command "$cmd" list -q 2>/dev/null </dev/null)
	return 0
}

# _capsemctl_words: the shell words of the line up to the cursor, into
# words[] and cword, with the pieces bash splits at COMP_WORDBREAKS
# ("--image=NAME", "-e A=B", "ADDR:PORT") joined back into one word.  The
# word at the cursor stops at the cursor.
_capsemctl_words()
{
	local line=${COMP_LINE:0:COMP_POINT} i w sp
	words=()
	cword=0
	for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		sp=0
		while [[ $line == [[:space:]]* ]]; do
			line=${line:1}
			sp=1
		done
		if ((i == COMP_CWORD)); then
			w=$line
		elif [[ $line == "$w"* ]]; then
			line=${line:${#w}}
		else
			# COMP_LINE does not match COMP_WORDS: take them as given.
			words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
			cword=$COMP_CWORD
			return 0
		fi
		if ((i > 0 && sp == 0)); then
			words[${#words[@]} - 1]+=$w
		else
			words+=("$w")
		fi
	done
	((${#words[@]} > 0)) || words=("")
	cword=$((${#words[@]} - 1))
	return 0
}

# _capsemctl_scan FIRST SHORTARG LONGARG STOP: what the word at the cursor
# is, given the words from index FIRST on.  SHORTARG holds the short
# options that take an argument, LONGARG the long ones (space separated);
# STOP=1 if options end at the first operand (getopt "+"), 0 if they may
# follow it.  Sets:
#   kind	"arg" (the argument of option $opt: $vpre typed, then $val),
#		"opt" (an option being typed, "-" included) or "pos" (operand
#		number $npos; val is then $cur)
#   pos[]	the operands before the cursor, posi the index of the first
#   ddash	1 if "--" came before the cursor
_capsemctl_scan()
{
	local first=$1 sarg=$2 larg=" ${3//[[:space:]]/ } " stop=$4 i j w c want= operand
	kind=pos opt= vpre= val=$cur npos=0 pos=() posi=-1 ddash=0
	for ((i = first; i <= cword; i++)); do
		w=${words[i]}
		if [[ -n $want ]]; then
			if ((i == cword)); then
				kind=arg opt=$want val=$w
				return 0
			fi
			want=
			continue
		fi
		# An operand: after "--", after the first operand (STOP), or a
		# word not starting with "-" ("-" alone is one, but not at the
		# cursor, where it starts an option).
		operand=0
		if ((ddash || (stop && npos > 0))); then
			operand=1
		elif [[ $w != -* ]]; then
			operand=1
		elif [[ $w == - ]] && ((i < cword)); then
			operand=1
		fi
		if ((operand)); then
			if ((i < cword)); then
				pos+=("$w")
				((posi < 0)) && posi=$i
				npos=$((npos + 1))
			fi
			continue
		fi
		if [[ $w == -- ]]; then
			if ((i < cword)); then
				ddash=1
			else
				kind=opt
			fi
			continue
		fi
		if [[ $w == --* ]]; then
			if [[ $w == --*=* ]]; then
				if ((i == cword)) && [[ $larg == *" ${w%%=*} "* ]]; then
					kind=arg opt=${w%%=*} vpre=${w%%=*}= val=${w#*=}
					return 0
				fi
			elif [[ $larg == *" $w "* ]] && ((i < cword)); then
				want=$w
			fi
			((i == cword)) && kind=opt
			continue
		fi
		# A cluster of short options: "-dn NAME", "-dnNAME", "-aclaude".
		((i == cword)) && kind=opt
		for ((j = 1; j < ${#w}; j++)); do
			c=${w:j:1}
			[[ -n $sarg && $sarg == *"$c"* ]] || continue
			if ((j + 1 < ${#w})); then
				if ((i == cword)); then
					kind=arg opt=-$c vpre=${w:0:j+1}
					val=${w:j+1}
					return 0
				fi
			elif ((i < cword)); then
				want=-$c
			fi
			break
		done
	done
	return 0
}

_capsemctl_start()
{
	_capsemctl_scan "$1" new "--name --image --env --kernel --initrd --disk
	    --mem --cpus --user --workspace" 1
	case $kind in
	arg)
		case $opt in
		--image)
			[[ $val == */* ]] || _capsemctl_images
			_capsemctl_files -d
			;;
		--kernel | --initrd | --disk)
			_capsemctl_files -f
			;;
		-w | --workspace)
			_capsemctl_files -d
			;;
		esac
		;;
	opt)
		_capsemctl_add -d --detach -n --name --image -e --env --kernel \
		    --initrd --disk --mem --cpus --user -w --workspace \
		    --no-workspace --force --host-only --help
		;;
	pos)
		# The agent, then its own arguments; after "--" the command
		# runs in the guest.
		((ddash == 0 && npos == 0)) && _capsemctl_add $_capsemctl_agents shell
		;;
	esac
}

_capsemctl_proxy()
{
	_capsemctl_scan "$1" la "--listen --http --dns --agent" 1
	case $kind in
	arg)
		[[ $opt == -a || $opt == --agent ]] &&
		    _capsemctl_add $_capsemctl_agents
		;;
	opt | pos)
		((npos == 0 && ddash == 0)) &&
		    _capsemctl_add -l --listen --http --dns -d --detach -a \
		    --agent --help
		;;
	esac
}

# A subcommand that takes options $2... and at most one session id.
_capsemctl_session()
{
	local first=$1
	shift
	_capsemctl_scan "$first" "" "" 1
	case $kind in
	opt)
		_capsemctl_add "$@" --help
		;;
	pos)
		((npos == 0 && ddash == 0)) && _capsemctl_ids
		;;
	esac
}

_capsemctl_ca()
{
	_capsemctl_scan "$1" "" "" 1
	if ((npos == 0)); then
		if [[ $kind == opt ]]; then
			_capsemctl_add --help
		else
			_capsemctl_add init show export mint
		fi
		return 0
	fi
	case ${pos[0]} in
	init)
		_capsemctl_scan $((posi + 1)) "" "" 1
		((npos == 0)) && _capsemctl_add --force -f --help
		;;
	show | export | mint)
		_capsemctl_scan $((posi + 1)) "" "" 1
		[[ $kind == opt ]] && _capsemctl_add --help
		;;
	esac
}

_capsemctl_policy()
{
	_capsemctl_scan "$1" "" "" 1
	if ((npos == 0)); then
		if [[ $kind == opt ]]; then
			_capsemctl_add --help
		else
			_capsemctl_add check show lint
		fi
		return 0
	fi
	case ${pos[0]} in
	check)
		# getopt without "+": options may follow the URL.
		_capsemctl_scan $((posi + 1)) aX "" 0
		case $kind in
		arg)
			case $opt in
			-a) _capsemctl_add $_capsemctl_agents ;;
			-X) _capsemctl_add GET HEAD POST PUT PATCH DELETE OPTIONS ;;
			esac
			;;
		opt)
			_capsemctl_add -X -a --help
			;;
		esac
		;;
	show)
		_capsemctl_scan $((posi + 1)) a "" 0
		case $kind in
		arg)
			_capsemctl_add $_capsemctl_agents
			;;
		opt | pos)
			_capsemctl_add -a --help
			;;
		esac
		;;
	lint)
		_capsemctl_scan $((posi + 1)) "" "" 0
		case $kind in
		opt)
			_capsemctl_add --help
			;;
		pos)
			((npos == 0)) && _capsemctl_files -f
			;;
		esac
		;;
	esac
}

_capsemctl_image()
{
	_capsemctl_scan "$1" "" "" 1
	if ((npos == 0)); then
		if [[ $kind == opt ]]; then
			_capsemctl_add --help
		else
			_capsemctl_add build list
		fi
		return 0
	fi
	case ${pos[0]} in
	build)
		_capsemctl_scan $((posi + 1)) "" "" 1
		case $kind in
		opt)
			_capsemctl_add -f --force -v --verbose --help
			;;
		pos)
			((npos == 0 && ddash == 0)) && _capsemctl_images
			;;
		esac
		;;
	list)
		_capsemctl_scan $((posi + 1)) "" "" 1
		((npos == 0)) && _capsemctl_add --json --help
		;;
	esac
}

_capsemctl()
{
	local IFS=$' \t\n' words cword cur i sub= subi
	local kind opt vpre val npos pos posi ddash
	local wb pre r
	local -a out

	COMPREPLY=()
	_capsemctl_words
	cur=${words[cword]}
	val=$cur
	vpre=

	# The subcommand: the first word after the global options.
	for ((i = 1; i < cword; i++)); do
		if [[ ${words[i]} != -* ]]; then
			sub=${words[i]}
			subi=$i
			break
		fi
	done

	if [[ -z $sub ]]; then
		if [[ $cur == -* ]]; then
			_capsemctl_add -v -h --help
		else
			_capsemctl_add $_capsemctl_commands
		fi
	else
		case $sub in
		start) _capsemctl_start $((subi + 1)) ;;
		proxy) _capsemctl_proxy $((subi + 1)) ;;
		list)
			_capsemctl_scan $((subi + 1)) "" "" 1
			((npos == 0)) &&
			    _capsemctl_add --json -q --quiet --prune --help
			;;
		status) _capsemctl_session $((subi + 1)) --json ;;
		logs) _capsemctl_session $((subi + 1)) --json -f --follow --model ;;
		usage) _capsemctl_session $((subi + 1)) --json ;;
		attach | stop | reload) _capsemctl_session $((subi + 1)) ;;
		ca) _capsemctl_ca $((subi + 1)) ;;
		policy) _capsemctl_policy $((subi + 1)) ;;
		image) _capsemctl_image $((subi + 1)) ;;
		doctor)
			_capsemctl_scan $((subi + 1)) "" "" 1
			if ((npos == 0 && ddash == 0)); then
				[[ $kind == opt ]] || _capsemctl_add $_capsemctl_agents
				_capsemctl_add --json --help
			fi
			;;
		help)
			_capsemctl_scan $((subi + 1)) "" "" 1
			((npos == 0)) && [[ $kind == pos ]] &&
			    _capsemctl_add $_capsemctl_commands
			;;
		esac
	fi

	# Bash replaces only the text after the last "=" or ":" it breaks
	# words at: drop what comes before it from every match.
	wb=${COMP_WORDBREAKS-}
	wb=${wb//[^=:]/}
	if [[ -n $wb ]]; then
		r=${cur##*[$wb]}
		pre=${cur:0:${#cur}-${#r}}
	else
		pre=
	fi
	if [[ -n $pre ]]; then
		out=()
		for r in "${COMPREPLY[@]}"; do
			[[ $r == "$pre"* ]] && out+=("${r:${#pre}}")
		done
		COMPREPLY=("${out[@]}")
	fi
	return 0
}

complete -F _capsemctl capsemctl
