// NotificationsService
