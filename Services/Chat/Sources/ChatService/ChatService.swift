// ChatService
