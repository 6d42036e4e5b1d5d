#define _GNU_SOURCE
#include <sched.h>
#include "CLinuxNet.h"

int weft_setns_net(int fd) {
    return setns(fd, CLONE_NEWNET);
}
