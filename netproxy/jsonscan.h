/*
 * jsonscan: a streaming, incremental JSON tokenizer for untrusted bytes.
 *
 * Bytes are fed in pieces of any size; the scanner keeps a bounded stack
 * of open containers with each object's current member key, and reports
 * events (containers opened and closed, scalar values) to a callback
 * together with that key path.  Nothing is buffered beyond one bounded
 * key per level and one bounded string value the callback asked for;
 * everything else is skipped without copying.  Nesting deeper than
 * JSON_DEPTH_MAX is an error, never recursion.
 */
#ifndef NETPROXY_JSONSCAN_H
#define NETPROXY_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX	64	/* open containers */
#define JSON_KEY_MAX	40	/* bytes of a member key kept for paths */
#define JSON_STR_MAX	256	/* bytes of a captured string value */

enum json_ev {
	JSON_EV_WANT,		/* a string value starts: return 1 to capture */
	JSON_EV_BEGIN,		/* a container opens (ev_obj says which) */
	JSON_EV_END,		/* a container closed */
	JSON_EV_STRING,		/* a string value ended: str, strlen... */
	JSON_EV_NUMBER,		/* a number ended: num_ok, num */
	JSON_EV_LITERAL,	/* true, false or null ended: lit */
	JSON_EV_DONE,		/* the top-level value is complete */
};

enum json_status {
	JSON_MORE = 0,		/* inside a value (or none started yet) */
	JSON_DONE,		/* the top-level value is complete */
	JSON_ERROR,		/* see err; later bytes are ignored */
};

enum json_error {
	JSON_E_NONE = 0,
	JSON_E_SYNTAX,		/* not JSON (incl. bytes after the value) */
	JSON_E_DEPTH,		/* nested deeper than JSON_DEPTH_MAX */
	JSON_E_TRUNCATED,	/* ended inside the value */
	JSON_E_EMPTY,		/* ended before any value */
};

struct jsonscan;

/*
 * For BEGIN and END the path is the one leading to the container (its own
 * level is not counted), the same as for a scalar at that place.  The
 * return value matters only for JSON_EV_WANT.
 */
typedef int	(*json_cb)(void *arg, const struct jsonscan *js,
		    enum json_ev ev);

struct json_level {
	uint32_t index;			/* array: element index */
	uint8_t	 is_obj;
	uint8_t	 state;
	uint8_t	 keylen;
	uint8_t	 keybad;		/* key too long: matches nothing */
	char	 key[JSON_KEY_MAX];	/* object: current member key */
};

struct jsonscan {
	json_cb		 cb;
	void		*arg;
	struct json_level lv[JSON_DEPTH_MAX];
	size_t		 depth;		/* open containers */
	uint64_t	 offset;	/* bytes consumed */
	enum json_error	 err;
	uint8_t		 started;
	uint8_t		 done;		/* top-level value complete */
	uint8_t		 tok;		/* token being read */
	/* string token */
	uint8_t		 in_key;
	uint8_t		 capture;
	uint8_t		 esc;		/* 0, 1 after '\\', 2..5 hex digits */
	uint32_t	 ucode;		/* \u digits so far */
	uint32_t	 hi;		/* pending high surrogate, or 0 */
	char		 str[JSON_STR_MAX];
	size_t		 strlen;
	uint8_t		 strtrunc;
	/* number token */
	uint8_t		 nstate;
	uint8_t		 num_ok;	/* a non-negative integer that fits */
	uint64_t	 num;
	/* literal token */
	const char	*lit;		/* "true", "false" or "null" */
	uint8_t		 litpos;
	/* BEGIN / END */
	uint8_t		 ev_obj;
};

void	jsonscan_init(struct jsonscan *, json_cb, void *);
void	jsonscan_reset(struct jsonscan *);	/* for a new document */
enum json_status jsonscan_feed(struct jsonscan *, const uint8_t *, size_t);
enum json_status jsonscan_end(struct jsonscan *);	/* no more bytes */
/*
 * Whether the path from level `from` to the current place is exactly pat:
 * member keys separated by '.', "[]" for an array element, e.g.
 * "choices[].delta.tool_calls[].function.name".
 */
bool	jsonscan_path(const struct jsonscan *, size_t from, const char *pat);
const char *jsonscan_strerror(enum json_error);
/*
 * Copy a captured string into dst as a C string for logs: invalid UTF-8
 * and control characters become '?' (commas too if nocomma), cut at a
 * character boundary when dst is full; cut: src itself was truncated (an
 * incomplete last character is dropped).  Returns whether all fitted.
 */
bool	jsonscan_clean(char *dst, size_t size, const char *src, size_t len,
	    bool cut, bool nocomma);

#endif
