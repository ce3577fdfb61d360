// BIOs over bytes the caller holds: OpenSSL reads a message from, and writes
// verified content into, C++ strings without a copy in between.
#pragma once

#include <string>
#include <string_view>

#include "common/openssl_ptr.h"

namespace vmc {

// A read-only BIO over `bytes`, which must outlive it. Unlike a memory BIO
// (BIO_new_mem_buf) it reads without OpenSSL's generic read conversion, which
// matters because SMIME_read_CMS reads a multipart message one byte per
// BIO_read call. Returns nullptr when OpenSSL cannot allocate.
BioPtr StringSourceBio(std::string_view bytes);

// A write-only BIO that appends everything written to `*sink`, which must
// outlive it. Returns nullptr when OpenSSL cannot allocate.
BioPtr StringSinkBio(std::string* sink);

}  // namespace vmc
