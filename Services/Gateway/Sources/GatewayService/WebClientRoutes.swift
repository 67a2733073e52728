import Foundation
import HTTPTypes
import Hummingbird
import PlatformSecurity

/// The reference web client at `/`: `index.html`, and its scripts, styles and images under
/// `/assets/`, read once at start-up. Each answer has a strong ETag (a conditional request that
/// matches is 304), `Cache-Control: no-cache` (the files have no version in their names, so a
/// browser asks again each time and mostly gets 304), and the headers that hold the browser to the
/// client's own files: a Content-Security-Policy with no inline script or style, no framing, no
/// referrer, no type sniffing.
struct WebClientRoutes {
    struct File {
        let body: ByteBuffer
        let contentType: String
        let etag: String
    }

    /// By path: "/" and "/assets/<name>".
    let files: [String: File]

    /// Reads `index.html` and every file of `assets/` in `folder`; a file of a kind it does not
    /// know is left out (a browser must never guess a type).
    init(folder: URL) {
        var files: [String: File] = [:]
        if let index = Self.read(folder.appendingPathComponent("index.html")) {
            files["/"] = index
        }
        let assets = folder.appendingPathComponent("assets")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: assets.path)) ?? [] {
            if let file = Self.read(assets.appendingPathComponent(name)) { files["/assets/\(name)"] = file }
        }
        self.files = files
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/") { request, _ in answer("/", to: request) }
        router.get("/assets/:name") { request, context in
            answer("/assets/\(context.parameters.get("name") ?? "")", to: request)
        }
    }

    private func answer(_ path: String, to request: Request) -> Response {
        guard let file = files[path] else {
            return Response(
                status: .notFound, headers: Self.headers(contentType: "text/plain; charset=utf-8"),
                body: .init(byteBuffer: ByteBuffer(string: "Not found\n")))
        }
        var headers = Self.headers(contentType: file.contentType)
        headers[.eTag] = file.etag
        if let asked = request.headers[.ifNoneMatch],
            asked.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == file.etag })
        {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: file.body))
    }

    /// What every answer of the client carries. `connect-src 'self'` covers the API and the
    /// stream (a WebSocket to the same host).
    static func headers(contentType: String) -> HTTPFields {
        [
            .contentType: contentType,
            .cacheControl: "no-cache",
            .contentSecurityPolicy: contentSecurityPolicy,
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            HTTPField.Name("X-Frame-Options")!: "DENY",
            HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin",
            HTTPField.Name("Permissions-Policy")!: "camera=(), microphone=(), geolocation=(), payment=()",
        ]
    }

    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: https:",
        "connect-src 'self'", "font-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
    ].joined(separator: "; ")

    private static let types = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon", "json": "application/json",
    ]

    private static func read(_ url: URL) -> File? {
        guard let type = types[url.pathExtension.lowercased()], let data = try? Data(contentsOf: url) else { return nil }
        return File(
            body: ByteBuffer(bytes: data), contentType: type, etag: "\"" + Hex.encode(SHA256.hash(data).prefix(12)) + "\"")
    }
}
