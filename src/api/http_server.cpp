#include "api/http_server.h"

#include "api/http/front.h"
#include "api/router.h"

namespace ej::api {

struct HttpServer::Impl {
  service::Services* services;
  HttpConfig config;
  PartUrlSigner signer;
  Router router;
  http::Front front;

  Impl(service::Services* s, HttpConfig c, std::string secret)
      : services(s),
        config(std::move(c)),
        signer(std::move(secret), config.url_ttl_s),
        router(services, &config, &signer),
        front(&router, &config, services->config.data_dir + "/http-spool",
              services->config.max_upload_bytes) {}
};

HttpServer::HttpServer(service::Services* services, HttpConfig config, std::string url_secret)
    : impl_(std::make_unique<Impl>(services, std::move(config), std::move(url_secret))) {
  register_batch_routes(impl_->router);  // /v2/batches
  register_dataset_routes(impl_->router);
  register_job_routes(impl_->router);
  register_model_routes(impl_->router);
  register_embed_routes(impl_->router);
  register_ops_routes(impl_->router);
  register_openai_routes(impl_->router);
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  return impl_->front.bind();
}

void HttpServer::serve() {
  impl_->front.serve();
}

void HttpServer::stop() {
  impl_->front.stop();
}

}  // namespace ej::api
