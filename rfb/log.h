/* rfb/ internal logging: every line of the module reads "rfb: ...". */
#ifndef WEBKVM_RFB_LOG_H
#define WEBKVM_RFB_LOG_H

#include "common/log.h"

#define rfb__log(level, ...) wk_log("rfb", (level), __VA_ARGS__)

#endif
