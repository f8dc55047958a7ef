// FileRangeBody: a Beast Body that sends `length` bytes of an open file from `offset`, read with
// pread in 64 KiB pieces as the socket takes them (a slow reader holds one buffer, no thread).
// Used on the connection's strand only.
#pragma once

#include <unistd.h>

#include <array>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <memory>

#include "api/http/message.h"

namespace ej::api::http {

struct FileRangeBody {
  struct value_type {
    std::shared_ptr<FileSource> file;
    uint64_t offset = 0;
    uint64_t length = 0;
  };

  static std::uint64_t size(const value_type& v) { return v.length; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& v)
        : body_(v), pos_(v.offset), remain_(v.length) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (remain_ == 0) return boost::none;
      size_t want = static_cast<size_t>(std::min<uint64_t>(remain_, buf_.size()));
      const int64_t got = body_.file->read_at
                              ? body_.file->read_at(pos_, buf_.data(), want)
                              : static_cast<int64_t>(::pread(body_.file->fd, buf_.data(), want,
                                                             static_cast<off_t>(pos_)));
      if (got <= 0) {
        ec = boost::beast::errc::make_error_code(boost::beast::errc::io_error);
        return boost::none;
      }
      pos_ += static_cast<uint64_t>(got);
      remain_ -= static_cast<uint64_t>(got);
      return {{const_buffers_type(buf_.data(), static_cast<size_t>(got)), remain_ > 0}};
    }

   private:
    const value_type& body_;
    uint64_t pos_;
    uint64_t remain_;
    std::array<char, 64 * 1024> buf_;
  };
};

}  // namespace ej::api::http
