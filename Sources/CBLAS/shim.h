// OpenBLAS's own cblas.h (found through pkg-config `openblas`), never the generic
// alternatives link, which may point at another vendor's header.
#include <cblas.h>
