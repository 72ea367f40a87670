/* common/ — the monotonic clock every module reads.
 *
 * CLOCK_MONOTONIC: never jumps with the wall clock, counts from an arbitrary
 * point (boot).  Safe from any thread.
 */
#ifndef WEBKVM_COMMON_CLOCK_H
#define WEBKVM_COMMON_CLOCK_H

#include <stdint.h>

uint64_t wk_now_us(void);
uint64_t wk_now_ms(void);

#endif
