import Foundation
import Hummingbird

extension AdminAPI {
    /// GET /v1/openapi.yaml, without a token: the API's description, the same document as in the repository.
    func addOpenAPIRoute(to routes: AdminRouteTable) {
        routes.get("/v1/openapi.yaml") { _, _ in
            for path in openAPIDocumentPaths {
                if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                    return JSONResponse.text(text, contentType: "application/yaml")
                }
            }
            throw AdminError.notFound(
                "the OpenAPI document is not installed (looked in \(openAPIDocumentPaths.joined(separator: ", "))); "
                    + "it is Sources/WeftAPI/openapi.yaml in the repository"
            )
        }
    }
}
