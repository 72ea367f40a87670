/* rfb/ internal logging: "rfb: " prefix, level filter. */
#ifndef WEBKVM_RFB_LOG_H
#define WEBKVM_RFB_LOG_H

enum { RFB_LOG_ERROR = 0, RFB_LOG_WARN, RFB_LOG_INFO, RFB_LOG_DEBUG };

void rfb__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
