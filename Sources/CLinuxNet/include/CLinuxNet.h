#ifndef WEFT_CLINUXNET_H
#define WEFT_CLINUXNET_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#endif
