// The one translation unit that compiles Asio, Asio SSL and Beast (BOOST_ASIO_SEPARATE_COMPILATION
// and BOOST_BEAST_SEPARATE_COMPILATION are defined project-wide), so no other file pays for them.
#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
