/* netproxy's settings messages now live in common/msg.h. */
#ifndef NETPROXY_SETTINGS_H
#define NETPROXY_SETTINGS_H

#include "msg.h"

#endif
