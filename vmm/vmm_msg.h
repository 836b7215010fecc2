/* vmm_msg.h: the vmm's setup messages now live in common/msg.h. */
#ifndef CAPSEM_VMM_MSG_H
#define CAPSEM_VMM_MSG_H

#include "msg.h"

#endif
