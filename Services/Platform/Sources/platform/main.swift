import Foundation
import PlatformTool

exit(await PlatformCommand.run(Array(CommandLine.arguments.dropFirst())))
