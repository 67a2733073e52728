public import Foundation

/// The reference web client's files (`Public/`), as the gateway serves them.
public enum WebClient {
    /// The folder holding `index.html` and `assets/`.
    public static var folder: URL {
        guard let url = Bundle.module.url(forResource: "Public", withExtension: nil) else {
            fatalError("the web client's files are missing from the gateway's resources")
        }
        return url
    }
}
